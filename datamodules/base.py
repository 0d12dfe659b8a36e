"""In-memory data sets served as whole batches.

Small data sets live as tensors; a batch is one indexing operation (Dataset.__getitems__),
not a Python loop over items and a per-item collate. Samplers stay ordinary, so Lightning
can swap in a DistributedSampler and each DDP rank gets its own shard of indices.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from datamodules.description import DataDescription
from zoo.errors import UserError
from zoo.ranges import Range

EVAL_BATCH_SIZE = 1024


class TensorSplit(Dataset):
    """One split (train, val or test) held as tensors x and y; y may be a dict of targets (one per task)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | dict[str, torch.Tensor]):
        for name, target in y.items() if isinstance(y, dict) else [("y", y)]:
            if len(x) != len(target):
                raise ValueError(f"x has {len(x)} rows but {name} has {len(target)}")
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def _targets(self, index):
        return {k: v[index] for k, v in self.y.items()} if isinstance(self.y, dict) else self.y[index]

    def __getitem__(self, i):
        return self.x[i], self._targets(i)

    def __getitems__(self, indices):
        index = torch.as_tensor(indices)
        return self.x[index], self._targets(index)


def already_batched(batch):
    """Collate for TensorSplit: __getitems__ already stacked the batch."""
    return batch


def parse_batch_size(batch_size, full_allowed: bool = True) -> int | str:
    """An integer >= 1, or (where a split is a set of examples) "full": full-batch gradient descent."""
    if full_allowed and batch_size == "full":
        return "full"
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        allowed = "a positive integer or 'full'" if full_allowed else "a positive integer"
        raise UserError(f"data.batch_size must be {allowed}, got {batch_size!r}")
    return batch_size


def missing_files(name: str, folder: Path, files: list[str], download: bool, reason: str = "") -> UserError:
    """The one sentence for a data set whose files are not where they should be."""
    hint = f"the download failed ({reason})" if download else "pass data.download=true with a network"
    return UserError(
        f"{name} is not in {folder} (expected {', '.join(files)}) and {hint}; "
        f"copy the files there or set data.root to the folder that holds them"
    )


class ResumableLoader(DataLoader):
    """A training loader whose epoch can stop in the middle and go on where it stopped.

    Each epoch's order follows from the seed and the epoch number (the shuffling generator is seeded
    with both; a dataset with `set_epoch` is told the epoch), so an epoch is the same batches in the
    same order however often it starts. Lightning keeps `state_dict()` in every checkpoint and, on
    resume, hands it back through `load_state_dict()` before the first batch: the resumed epoch then
    skips the batches the checkpoint had trained instead of training them twice.
    """

    def __init__(self, *args, seed: int = 0, epoch: Callable[[], int] = lambda: 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.seed, self.epoch = seed, epoch
        self._started: tuple[int, int] = (0, 0)  # (epoch, batches handed out) of the iteration going on
        self._resume_at: tuple[int, int] | None = None

    def state_dict(self) -> dict:
        return {"epoch": self._started[0], "batches": self._started[1]}

    def load_state_dict(self, state: dict) -> None:
        self._resume_at = (state["epoch"], state["batches"])

    def __iter__(self):
        epoch = self.epoch()
        # a checkpoint written at an epoch's end resumes at the next epoch, which starts from its first batch
        skip = self._resume_at[1] if self._resume_at and self._resume_at[0] == epoch else 0
        self._resume_at, self._started = None, (epoch, skip)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        if self.generator is not None:
            self.generator.manual_seed(self.seed * 1_000_003 + epoch)
        for batch in itertools.islice(super().__iter__(), skip, None):
            self._started = (epoch, self._started[1] + 1)
            yield batch


class DescribedDataModule(L.LightningDataModule):
    """What every datamodule of the zoo shares: a `description`, and batches moved to the device cheaply."""

    kind: str  # a key of datamodules.description.KINDS

    @property
    def description(self) -> DataDescription:
        raise NotImplementedError

    def adopt(self, trained_on: DataDescription) -> None:
        """Serve the data as the model being evaluated saw it (called before loading; text adopts the vocabulary)."""

    def input_statistics(self) -> dict:
        """What serving a new input needs beyond the description: the training split's pixel mean and deviation
        (images served standardised); nothing by default."""
        return {}

    def fingerprint(self, split: str) -> str:
        """A short hash of one split's examples as served (before augmentation): what a figure was measured on."""
        raise NotImplementedError

    def examples(self, split: str) -> int:
        """How many examples (or tokens) a split holds."""
        raise NotImplementedError

    def current_epoch(self) -> int:
        """The trainer's epoch (what orders a ResumableLoader's batches); 0 outside a fit."""
        return self.trainer.current_epoch if self.trainer is not None else 0

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        # In-memory CPU batches on a CPU run are already where they belong; Lightning's generic
        # collection walk costs more than a small model's step, so skip it then.
        if isinstance(batch, (tuple, list)) and all(isinstance(t, torch.Tensor) and t.device == device for t in batch):
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)


class InMemoryDataModule(DescribedDataModule):
    """Base class: subclasses implement `load()` returning train/val/test TensorSplits and `description`."""

    name = "data"

    def __init__(self, batch_size: int | str = 64, seed: int = 0, num_workers: int = 0, pin_memory: bool = False):
        super().__init__()
        self.batch_size = parse_batch_size(batch_size)
        self.seed = seed
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self._splits: dict[str, TensorSplit] | None = None

    # --- what subclasses provide -------------------------------------------------------------
    def load(self) -> dict[str, TensorSplit]:
        raise NotImplementedError

    # --- shared machinery --------------------------------------------------------------------
    @property
    def splits(self) -> dict[str, TensorSplit]:
        if self._splits is None:
            self._splits = self.load()
        return self._splits

    def fingerprint(self, split: str) -> str:
        return tensors_hash(self.splits[split].x, self.splits[split].y)

    def examples(self, split: str) -> int:
        return len(self.splits[split])

    def transform(self, x: torch.Tensor, train: bool) -> torch.Tensor:
        """Per-batch preparation on the device (scaling, augmentation); identity by default."""
        return x

    def inputs(self, split: str, device=None, chunk: int = 4096, limit: int | None = None) -> torch.Tensor:
        """A whole split's inputs (its first `limit`) as a model sees them (transformed for evaluation), on `device`."""
        x = self.splits[split].x[:limit]
        return torch.cat([self.transform(part.to(device), train=False) for part in x.split(chunk)])

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        x, y = batch
        return self.transform(x, train=self.trainer is not None and self.trainer.training), y

    def setup(self, stage: str | None = None) -> None:
        self.splits  # noqa: B018 - load once, on every process

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        data = self.splits[split]
        size = len(data) if self.batch_size == "full" else self.batch_size
        if split != "train":
            # Evaluation keeps no activations for backprop, so bigger batches fit and each batch
            # costs the trainer a fixed overhead: use at least EVAL_BATCH_SIZE.
            size = max(size, EVAL_BATCH_SIZE)
        if split == "train" and size > len(data):
            raise UserError(
                f"data.batch_size={size} is larger than the training split ({len(data)} examples); "
                f"use at most {len(data)} or batch_size=full"
            )
        settings = dict(
            batch_size=min(size, len(data)),
            collate_fn=already_batched,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
        )
        if not shuffle:
            return DataLoader(data, **settings)
        return ResumableLoader(
            data, shuffle=True, generator=torch.Generator(), seed=self.seed, epoch=self.current_epoch, **settings
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


# Pixel scaling of the image sets: standard (zero mean, unit variance; for classifiers) or unit ([0, 1],
# what the generative models need).
Scaling = Literal["standard", "unit"]
HeldOut = Annotated[float, Range(0, 1, low_open=True, high_open=True)]  # a share of the data held out
BatchSize = int | Literal["full"]  # data.batch_size: an integer, or the whole training split


def standardised(x: torch.Tensor, mean, std) -> torch.Tensor:
    """Images (N, C, H, W) with each channel's mean subtracted and divided by its deviation."""
    mean = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - mean) / std


def random_crop_flip(x: torch.Tensor, pad: int, flip: bool = False, padding: str = "zeros") -> torch.Tensor:
    """Pad by `pad` pixels (zeros, or the image's reflection at its edges) and crop back at a random offset per
    image; mirror half of them if `flip`.

    One vectorised gather for the whole batch (works on any device).
    """
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="constant" if padding == "zeros" else "reflect")
    dy = torch.randint(0, 2 * pad + 1, (n, 1), device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n, 1), device=x.device)
    rows = (dy + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    out = padded[batch, channel, rows, cols]
    if flip:
        mirrored = torch.rand(n, device=x.device) < 0.5
        out[mirrored] = out[mirrored].flip(-1)
    return out


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """The shares of the data held out for validation and test must leave enough to train on."""
    if val_fraction + test_fraction >= 0.9:
        raise UserError(
            f"data.val_fraction + data.test_fraction = {val_fraction + test_fraction:g} leaves too little to train "
            f"on; keep their sum below 0.9"
        )


def tensors_hash(*values) -> str:
    """A short hash of tensors (or mappings and lists of them: a scene's masks, boxes and captions)."""
    import hashlib

    digest = hashlib.sha256()

    def add(value) -> None:
        if isinstance(value, torch.Tensor):
            digest.update(str((tuple(value.shape), value.dtype)).encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                digest.update(str(key).encode())
                add(value[key])
        elif isinstance(value, (list, tuple)):
            digest.update(f"[{len(value)}]".encode())
            for item in value:
                add(item)
        else:
            digest.update(repr(value).encode())

    for value in values:
        add(value)
    return digest.hexdigest()[:16]


def split_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """(train, val, test) counts of n examples split as stratified_split splits them (scikit-learn's rounding)."""
    n_test = math.ceil(test_fraction * n)
    rest = n - n_test
    n_val = math.ceil(val_fraction / (1 - test_fraction) * rest)
    return rest - n_val, n_val, n_test


def check_split_sizes(y: torch.Tensor, val_fraction: float, test_fraction: float, what: str) -> None:
    """Every split gets at least one example of each class (as scikit-learn needs to stratify); else one sentence
    naming how many examples it takes, before the library is asked."""
    classes = len(torch.unique(y))

    def enough(n: int) -> bool:
        return min(split_sizes(n, val_fraction, test_fraction)) >= classes

    if enough(len(y)):
        return
    need = next(n for n in range(len(y) + 1, 100 * (len(y) + classes) + 1000) if enough(n))
    stratified = f" with each of its {classes} classes in every split" if classes > 1 else ""
    raise UserError(
        f"{what} holds {len(y)} examples; a train, validation and test split{stratified} at data.val_fraction="
        f"{val_fraction} and data.test_fraction={test_fraction} needs {need} or more (or larger fractions)"
    )


def stratified_split(y: torch.Tensor, val_fraction: float, test_fraction: float, seed: int, what: str = "the data"):
    """Indices of train/val/test, each class in the same proportion in every split (seeded); `what` names the
    data in the sentence when it is too small to split."""
    from sklearn.model_selection import train_test_split

    check_split_sizes(y, val_fraction, test_fraction, what)
    index = torch.arange(len(y)).numpy()
    rest, test = train_test_split(index, test_size=test_fraction, stratify=y.numpy(), random_state=seed)
    train, val = train_test_split(
        rest, test_size=val_fraction / (1 - test_fraction), stratify=y.numpy()[rest], random_state=seed
    )
    return torch.as_tensor(train), torch.as_tensor(val), torch.as_tensor(test)


def splits_from_index(x: torch.Tensor, y: torch.Tensor, train, val, test) -> dict[str, TensorSplit]:
    return {name: TensorSplit(x[idx], y[idx]) for name, idx in (("train", train), ("val", val), ("test", test))}
