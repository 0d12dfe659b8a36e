"""Token streams for language models: the vocabulary, the windows, and the streams of a text's three splits.

Each split is one stream of token ids, cut into `batch_size` parallel rows and served in windows of
`bptt` tokens, in order, so the model can carry its hidden state from one window to the next. Under
DDP each process reads its own rows (an IterableDataset, so no sampler reshuffles the windows). Where the
text comes from lives beside this file: the generated long-range corpus (longrange.py), a local file
(text_files.py), the canonical corpora (corpora.py).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Literal

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, IterableDataset

from datamodules.base import DescribedDataModule, ResumableLoader, tensors_hash
from datamodules.description import DataDescription
from zoo.errors import UserError
from zoo.ranges import Count, Seed

EOS, UNK = "<eos>", "<unk>"


class Vocab:
    """Token <-> id. Word vocabularies are ordered by frequency in the training split (ties by spelling)."""

    def __init__(self, itos: list[str]):
        self.itos = list(itos)
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    @classmethod
    def from_tokens(cls, tokens: list[str]) -> Vocab:
        counts = Counter(tokens)
        return cls(sorted(counts, key=lambda s: (-counts[s], s)))

    def encode(self, tokens: list[str]) -> torch.Tensor:
        unk = self.stoi.get(UNK)
        if unk is None:
            missing = sorted({t for t in tokens if t not in self.stoi})
            if missing:
                raise UserError(f"tokens {missing[:5]} are not in the training vocabulary and it has no {UNK}")
        return torch.tensor([self.stoi.get(t, unk) for t in tokens], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.itos)


class StreamWindows(IterableDataset):
    """(x, y[, mask]) windows of a stream batchified into rows; rows are split across DDP ranks."""

    def __init__(
        self,
        stream: torch.Tensor,
        batch_size: int,
        bptt: int,
        mask: torch.Tensor | None = None,
        shuffle_units: int | None = None,
        seed: int = 0,
    ):
        rows = len(stream) // batch_size
        if rows < 2:
            raise UserError(
                f"a split of {len(stream)} tokens is too short for data.batch_size={batch_size}; "
                f"use a smaller batch size"
            )
        self.stream, self.full_mask, self.batch_size, self.bptt = stream, mask, batch_size, bptt
        # Independent sentences of `shuffle_units` tokens may be read in a new order every epoch (the
        # same order on every DDP rank: the permutation is drawn from the seed and the epoch, set_epoch).
        self.shuffle_units, self.seed, self.epoch = shuffle_units, seed, 0
        self._batchify(stream, mask)

    def _batchify(self, stream: torch.Tensor, mask: torch.Tensor | None) -> None:
        rows = len(stream) // self.batch_size
        self.data = stream[: rows * self.batch_size].view(self.batch_size, rows)
        self.mask = None if mask is None else mask[: rows * self.batch_size].view(self.batch_size, rows)

    def _reshuffle(self) -> None:
        n = len(self.stream) // self.shuffle_units
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + self.epoch))
        units = lambda t: t[: n * self.shuffle_units].view(n, -1)[order].flatten()  # noqa: E731
        self._batchify(units(self.stream), None if self.full_mask is None else units(self.full_mask))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _rows(self) -> slice:
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            return slice(dist.get_rank(), None, dist.get_world_size())
        return slice(None)

    def __len__(self) -> int:
        return math.ceil((self.data.shape[1] - 1) / self.bptt)

    def __iter__(self):
        if self.shuffle_units:
            self._reshuffle()
        data = self.data[self._rows()]
        mask = None if self.mask is None else self.mask[self._rows()]
        for start in range(0, data.shape[1] - 1, self.bptt):
            end = min(start + self.bptt, data.shape[1] - 1)
            window = (data[:, start:end].long(), data[:, start + 1 : end + 1].long())
            yield window if mask is None else (*window, mask[:, start + 1 : end + 1])


class RandomWindows(IterableDataset):
    """Batches of `batch_size` windows of `bptt` tokens (and their targets) at random places of a stream.

    The way char-rnn and nanoGPT read a text: every window starts from a fresh state, and an epoch
    draws as many windows as fit into one pass. Each epoch, and each DDP rank, draws its own places
    from the seed.
    """

    def __init__(self, stream: torch.Tensor, batch_size: int, bptt: int, seed: int = 0):
        if len(stream) <= bptt + 1:
            raise UserError(f"a split of {len(stream)} tokens is too short for data.bptt={bptt}")
        self.stream, self.batch_size, self.bptt, self.seed, self.epoch = stream, batch_size, bptt, seed, 0
        self.batches = max(1, (len(stream) - 1) // (batch_size * bptt))

    def __len__(self) -> int:
        return self.batches

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch * 1009 + rank)
        offsets = torch.arange(self.bptt + 1)
        for _ in range(self.batches):
            starts = torch.randint(len(self.stream) - self.bptt - 1, (self.batch_size, 1), generator=generator)
            window = self.stream[starts + offsets].long()
            yield window[:, :-1], window[:, 1:]


Sampling = Literal["stream", "random"]  # training windows in order (state carried) or at random places
Level = Literal["char", "word"]


class StreamDataModule(DescribedDataModule):
    """Base: subclasses fill `streams` (split -> token ids), `vocab`, and optionally `masks` and `optimal_nll`.

    sampling=stream reads the training split in order with the state carried from window to window;
    sampling=random draws training windows at random places (RandomWindows). Validation and test
    are always read as streams.
    """

    kind = "tokens"
    level = "word"

    def __init__(self, batch_size: Count = 32, bptt: Count = 35, seed: Seed = 0, sampling: Sampling = "stream"):
        super().__init__()
        self.batch_size, self.bptt, self.seed = batch_size, bptt, seed
        self.sampling = sampling
        self.oov_rate: dict[str, float] = {}  # split -> share of its tokens the training vocabulary lacks
        self.shuffle_units: int | None = None  # set by corpora of independent, equally long sentences
        self._loaded = False
        self.streams: dict[str, torch.Tensor] = {}
        self.masks: dict[str, torch.Tensor] = {}
        self.vocab: Vocab | None = None
        self.trained_vocab: list[str] | None = None  # set by adopt(): evaluate with the model's vocabulary

    def load(self) -> None:
        raise NotImplementedError

    def adopt(self, trained_on: DataDescription) -> None:
        """Read the text with the vocabulary of the model being evaluated; unknown tokens count as <unk>."""
        if trained_on.kind != "tokens":
            return
        if trained_on.level != self.level:
            raise UserError(
                f"the checkpoint's model reads {trained_on.level}s but this data is cut into {self.level}s; "
                f"pass data.level={trained_on.level}"
            )
        self.trained_vocab = list(trained_on.vocab)

    def _ensure(self) -> None:
        if not self._loaded:
            self.load()
            self._check_lengths()
            self._loaded = True

    def _check_lengths(self) -> None:
        """Every split must fill data.batch_size rows of two tokens: found at loading, not after the fit."""
        for split, stream in self.streams.items():
            if len(stream) // self.batch_size < 2:
                fraction = f", a larger data.{split}_fraction" if hasattr(self, f"{split}_fraction") else ""
                raise UserError(
                    f"the {split} split has {len(stream)} tokens, too few for data.batch_size={self.batch_size} rows "
                    f"of at least two; use a smaller data.batch_size{fraction} or a longer text"
                )

    def fingerprint(self, split: str) -> str:
        self._ensure()
        return tensors_hash(self.streams[split])

    def examples(self, split: str) -> int:
        self._ensure()
        return len(self.streams[split])

    @property
    def description(self) -> DataDescription:
        self._ensure()
        return DataDescription("tokens", vocab=self.vocab.itos, level=self.level, train_windows=self.sampling)

    def setup(self, stage: str | None = None) -> None:
        self._ensure()

    def _loader(self, split: str) -> DataLoader:
        self._ensure()
        if split == "train" and self.sampling == "random":
            windows = RandomWindows(self.streams["train"], self.batch_size, self.bptt, self.seed)
        else:
            units = self.shuffle_units if split == "train" else None
            windows = StreamWindows(
                self.streams[split], self.batch_size, self.bptt, self.masks.get(split), units, self.seed
            )
        if split == "train":
            return ResumableLoader(windows, batch_size=None, epoch=self.current_epoch)
        return DataLoader(windows, batch_size=None)

    def train_dataloader(self):
        return self._loader("train")

    def val_dataloader(self):
        return self._loader("val")

    def test_dataloader(self):
        return self._loader("test")

    def probe_window(self, steps: int):
        """A few rows of `steps` validation tokens and their targets, for the gradient-through-time probe."""
        self._ensure()
        stream = self.streams["val"]
        rows = min(8, max(1, (len(stream) - 1) // steps))
        x = stream[: rows * steps].view(rows, steps)
        y = stream[1 : rows * steps + 1].view(rows, steps)
        return x.long(), y.long()

    def decode(self, ids: list[int]) -> str:
        return detokenize([self.vocab.itos[i] for i in ids], self.level)


def tokenize(text: str, level: Level) -> list[str]:
    """Characters, or words with <eos> at the end of every line (the PTB / WikiText convention)."""
    if level == "char":
        return list(text)
    return [w for line in text.splitlines() for w in (*line.split(), EOS)]


def prompt_tokens(text: str, level: str) -> list[str]:
    """A prompt's tokens: it continues a line, so words get no <eos> (unlike tokenize() on a corpus)."""
    return list(text) if level == "char" else text.split()


def detokenize(tokens: list[str], level: str) -> str:
    """Tokens back to text: characters joined as they are, words with spaces."""
    return ("" if level == "char" else " ").join(tokens)


class SplitTextDataModule(StreamDataModule):
    """Builds the streams from three token lists; the vocabulary comes from the training split alone."""

    def __init__(
        self,
        level: Level = "word",
        batch_size: Count = 20,
        bptt: Count = 35,
        seed: Seed = 0,
        sampling: Sampling = "stream",
    ):
        super().__init__(batch_size, bptt, seed, sampling)
        self.level = level

    def texts(self) -> dict[str, str]:
        raise NotImplementedError

    def load(self) -> None:
        texts = self.texts()
        if self.level == "char":
            vocab = Vocab(self.trained_vocab) if self.trained_vocab else Vocab(char_vocabulary(texts["train"]) + [UNK])
            encoded = {split: encode_chars(text, vocab) for split, text in texts.items()}
        else:
            tokens = {split: tokenize(text, self.level) for split, text in texts.items()}
            vocab = Vocab(self.trained_vocab) if self.trained_vocab else Vocab.from_tokens(tokens["train"])
            if UNK not in vocab.stoi:  # unseen tokens of val/test map here
                vocab = Vocab(vocab.itos + [UNK])
            # a token spelled <unk> in the text itself (PTB, WikiText) is not counted as unknown
            encoded = {
                split: (compact(vocab.encode(toks)), sum(t not in vocab.stoi for t in toks))
                for split, toks in tokens.items()
            }
        self.vocab = vocab
        self.streams = {split: ids for split, (ids, _) in encoded.items()}
        self.oov_rate = {split: unknown / max(len(encoded[split][0]), 1) for split, (_, unknown) in encoded.items()}


def compact(ids: torch.Tensor) -> torch.Tensor:
    """Token ids in the smallest integer type that holds them (windows become int64 when served)."""
    top = int(ids.max()) if len(ids) else 0
    return ids.to(torch.int16 if top < 2**15 else torch.int32)


CHUNK = 1 << 20  # characters converted at a time: the temporary arrays stay a few MB


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def char_vocabulary(text: str) -> list[str]:
    """The characters of a text, most frequent first (ties by code point), as Vocab.from_tokens orders them."""
    counts: Counter = Counter()
    for start in range(0, len(text), CHUNK):
        codes, n = np.unique(_codes(text[start : start + CHUNK]), return_counts=True)
        counts.update(dict(zip(codes.tolist(), n.tolist())))
    return [chr(c) for c in sorted(counts, key=lambda c: (-counts[c], chr(c)))]


def encode_chars(text: str, vocab: Vocab) -> tuple[torch.Tensor, int]:
    """Character ids of a text (unknown ones as <unk>) and how many were unknown, chunk by chunk."""
    single = [(ord(s), i) for s, i in vocab.stoi.items() if len(s) == 1]
    keys = np.array(sorted(c for c, _ in single), dtype=np.uint32)
    ids_of_keys = np.array([i for _, i in sorted(single)], dtype=np.int64)
    unk = vocab.stoi.get(UNK, -1)
    out = np.empty(len(text), dtype=np.int16 if len(vocab) < 2**15 else np.int32)
    unknown = 0
    for start in range(0, len(text), CHUNK):
        codes = _codes(text[start : start + CHUNK])
        pos = np.minimum(np.searchsorted(keys, codes), max(len(keys) - 1, 0))
        known = keys[pos] == codes if len(keys) else np.zeros(len(codes), dtype=bool)
        unknown += int((~known).sum())
        out[start : start + len(codes)] = np.where(known, ids_of_keys[pos] if len(keys) else 0, unk)
    if unknown and unk < 0:
        raise UserError(f"{unknown} characters are not in the model's vocabulary and it has no {UNK}")
    return torch.from_numpy(out), unknown
