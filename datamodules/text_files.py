"""Any local UTF-8 text file as the three streams of a language model."""

from __future__ import annotations

from pathlib import Path

from datamodules.base import (
    HeldOut,
    check_fractions,
)
from datamodules.text import Level, Sampling, SplitTextDataModule
from zoo.errors import UserError
from zoo.ranges import Count, Seed


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
