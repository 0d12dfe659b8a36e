"""MNIST, Fashion-MNIST and CIFAR-10: downloaded by torchvision, or read from a local folder.

The images are kept as uint8 tensors in memory (CIFAR-10 is 150 MB); each batch is scaled,
normalised and (optionally) augmented after it reaches the device, in one vectorised step.
"""

from __future__ import annotations

import codecs
import importlib
import pickle
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch

from datamodules.base import (
    BatchSize,
    InMemoryDataModule,
    Scaling,
    TensorSplit,
    missing_files,
    random_crop_flip,
    standardised,
)
from datamodules.description import DataDescription
from zoo.errors import UserError
from zoo.ranges import Count, NonNegativeCount, Range, Seed


def validation_size(n_train: int) -> int:
    """The images held out of a training split of n for validation when data.val_size is null: a tenth, at most
    5,000 (the papers' 45k/5k split of CIFAR-10's 50k)."""
    return max(1, min(5000, n_train // 10))


class VisionDataModule(InMemoryDataModule):
    """Shared by the three image sets: a held-out validation split and per-batch normalisation."""

    shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    flip = False  # mirror images when augmenting (not for digits, where it changes the class)
    kind = "images"

    def __init__(
        self,
        root: str = "data",
        download: bool = True,
        batch_size: BatchSize = 128,
        val_size: Count | None = None,
        augment: bool = False,
        scaling: Scaling = "standard",
        seed: Seed = 0,
        num_workers: NonNegativeCount = 0,
        pin_memory: bool = False,
        shift: Annotated[int, Range(1, 16)] = 4,
        padding: Literal["zeros", "reflect"] = "zeros",
    ):
        super().__init__(batch_size, seed, num_workers, pin_memory)
        self.root, self.download, self.val_size, self.augment = Path(root), download, val_size, augment
        self.scaling, self.shift, self.padding = scaling, shift, padding

    @property
    def description(self) -> DataDescription:
        return DataDescription("images", input_shape=list(self.shape), num_classes=10, levels=256, scaling=self.scaling)

    def input_statistics(self) -> dict:
        self.splits  # noqa: B018 - an image folder's statistics come from its training split
        return {"mean": list(self.mean), "std": list(self.std)} if self.scaling == "standard" else {}

    def read(self, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 images (N, C, H, W) and int64 labels of the train or test part."""
        raise NotImplementedError

    def prepare_data(self) -> None:
        self.read(train=True)  # downloads once, on rank 0

    def load(self):
        x, y = self.read(train=True)
        x_test, y_test = self.read(train=False)
        n_val = self.val_size or validation_size(len(x))
        if not 0 < n_val < len(x):
            raise UserError(f"data.val_size must be between 1 and {len(x) - 1}, got {n_val}")
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(self.seed))
        val, train = order[:n_val], order[n_val:]
        return {
            "train": TensorSplit(x[train], y[train]),
            "val": TensorSplit(x[val], y[val]),
            "test": TensorSplit(x_test, y_test),
        }

    def transform(self, x: torch.Tensor, train: bool) -> torch.Tensor:
        x = x.float().div_(255)
        if self.augment and train:
            x = random_crop_flip(x, pad=self.shift, flip=self.flip, padding=self.padding)
        return x if self.scaling == "unit" else standardised(x, self.mean, self.std)

    def missing(self, folder: Path, files: list[str], reason: str = "") -> UserError:
        return missing_files(self.name, folder, files, self.download, reason)


def unreadable(name: str, folder: Path, reason: str) -> UserError:
    return UserError(
        f"the {name} files in {folder} cannot be read ({reason}); they may be truncated or of another data set: "
        f"delete them to download again, or copy whole ones there"
    )


class _TorchvisionIDX(VisionDataModule):
    """MNIST-layout data sets: root/<Class>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte."""

    shape = (1, 28, 28)
    dataset_class = "MNIST"

    def read(self, train: bool):
        import torchvision

        cls = getattr(torchvision.datasets, self.dataset_class)
        folder = self.root / self.dataset_class / "raw"
        files = [f"{p}-{k}-ubyte" for p in ("train", "t10k") for k in ("images-idx3", "labels-idx1")]
        exists = all((folder / f).exists() for f in files)
        if not exists and not self.download:
            raise self.missing(folder, files)
        try:
            data = cls(str(self.root), train=train, download=self.download and not exists)
        except Exception as err:  # the files' bytes decide what fails; every failure is the same sentence
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
            if exists:
                raise unreadable(self.name, folder, reason) from err
            raise self.missing(folder, files, reason) from err
        return data.data.unsqueeze(1).contiguous(), data.targets.long()


class MNISTDataModule(_TorchvisionIDX):
    name, dataset_class = "MNIST", "MNIST"
    mean, std = (0.1307,), (0.3081,)


class FashionMNISTDataModule(_TorchvisionIDX):
    name, dataset_class = "Fashion-MNIST", "FashionMNIST"
    mean, std = (0.2860,), (0.3530,)


CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR_TEST = ["test_batch"]


def _numpy_part(name: str):
    core = importlib.import_module("numpy._core" if hasattr(np, "_core") else "numpy.core")
    module = "multiarray" if name == "_reconstruct" else "numeric"
    return getattr(importlib.import_module(f"{core.__name__}.{module}"), name)


# What a pickled batch of plain arrays may name: numpy's pieces of an array, and the codec Python 2 pickles
# of bytes go through. Anything else in a data file (a function, any other class) is refused unread.
PLAIN = {
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    **{(f"numpy.{core}.multiarray", "_reconstruct"): lambda: _numpy_part("_reconstruct") for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): lambda: _numpy_part("_frombuffer") for core in ("core", "_core")},
    ("_codecs", "encode"): lambda: codecs.encode,
}


class PlainUnpickler(pickle.Unpickler):
    """Reads a pickle of containers, numbers, strings and numpy arrays; a pickle naming anything else would
    run code when loaded, and is refused."""

    def find_class(self, module: str, name: str):
        if (module, name) not in PLAIN:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which could run code when loaded")
        return PLAIN[module, name]()


def read_cifar_batches(folder: Path, names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The original python-pickled CIFAR-10 batches: dict with b"data" (N x 3072 uint8) and b"labels"."""
    xs, ys = [], []
    for name in names:
        try:
            with open(folder / name, "rb") as f:
                entry = PlainUnpickler(f, encoding="bytes").load()  # the format CIFAR-10 is published in
            xs.append(np.asarray(entry[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(entry[b"labels"], dtype=np.int64))
        except Exception as err:  # a truncated or foreign file fails in the unpickler or in the reshape
            raise unreadable("CIFAR-10", folder, f"{name}: {type(err).__name__} {err}"[:160]) from err
    return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))


class CIFAR10DataModule(VisionDataModule):
    """CIFAR-10: root/cifar-10-batches-py/{data_batch_1..5, test_batch}."""

    name = "CIFAR-10"
    shape = (3, 32, 32)
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    flip = True

    def read(self, train: bool):
        folder = self.root / CIFAR_FOLDER
        files = CIFAR_TRAIN + CIFAR_TEST
        if not all((folder / f).exists() for f in files):
            if not self.download:
                raise self.missing(folder, files)
            try:  # torchvision downloads the archive and checks its md5
                import torchvision

                torchvision.datasets.CIFAR10(str(self.root), download=True)
            except (RuntimeError, OSError) as err:
                raise self.missing(folder, files, str(err).splitlines()[0][:160]) from err
        return read_cifar_batches(folder, CIFAR_TRAIN if train else CIFAR_TEST)
