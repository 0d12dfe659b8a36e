"""A table: one row per example, a column to predict. data=table data.path=FILE.csv data.target=COLUMN, or the
tables scikit-learn bundles (data=iris, wine, breast_cancer; data=diabetes for regression).

Slide "Regression vs Classification": the output takes a class label or a continuous value. A target of
labels (any column that is not all numbers, or whole numbers taking few values) makes a classification
task; a numeric target a regression one (`task` says which outright). Numeric feature columns are
standardised with the training split's mean and deviation; a categorical one becomes one column per
value seen in training (`categorical: onehot`, or refused). A missing value (empty, NA, NaN, null, ?) is
refused with its row and column named, or filled from the training split (`missing: fill`: the mean of a
numeric column, the most common value of a categorical one). A regression target is served standardised
too; the description carries its scale, so errors are reported in the target's own units.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from datamodules.base import BatchSize, HeldOut, InMemoryDataModule, TensorSplit, check_fractions, stratified_split
from datamodules.description import DataDescription
from zoo.errors import UserError
from zoo.ranges import NonNegativeCount, Seed

# Spellings of a missing value (`inf` too: a number that was not measured is no category); data.missing decides.
MISSING = {"", "na", "nan", "null", "none", "?", "n/a", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
FEW_CLASSES = 20  # a whole-number target with at most this many values is a class label
MOSTLY_NUMBERS = 0.5  # a column more than half numbers, the rest not, is a column of numbers with broken cells
MAX_CATEGORIES = 50  # more distinct values than this, and than half the rows, is an identifier, not a category
Task = Literal["auto", "classification", "regression"]
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# 1,737 or 1 737 or 1.737,5 or 1,5: a number written with a separator the table's settings do not read
SEPARATED_NUMBER = re.compile(r"[+-]?\d{1,3}([ ,.'\u2019\u00a0]\d{3})+([.,]\d+)?|[+-]?\d+,\d+")


def is_missing(cell: str) -> bool:
    return cell.lower() in MISSING


def as_number(text: str, decimal: str = ".", thousands: str = "") -> float | None:
    """The number a cell writes (with the table's decimal mark and thousands separator), or None."""
    if thousands:
        text = text.replace(thousands, "")
    if decimal != ".":
        text = text.replace(".", "\x00").replace(decimal, ".")
    if not NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def numbers_of(name: str, cells: list[str], where: str, decimal: str, thousands: str) -> list[float | None] | None:
    """The one decision on a column's kind: its numbers (None where missing) when it is a column of numbers, None
    when it is a column of categories; a column that is neither (numbers with a few other cells, or numbers written
    with a separator the table's settings do not read) is refused naming its cells."""
    numbers = [None if is_missing(c) else as_number(c, decimal, thousands) for c in cells]
    present = [i for i, c in enumerate(cells) if not is_missing(c)]
    other = [i for i in present if numbers[i] is None]
    if not other:
        return numbers
    separated = [i for i in other if SEPARATED_NUMBER.fullmatch(cells[i])]
    numbers_in_spirit = len(present) - len(other) + len(separated)
    if numbers_in_spirit <= len(present) * MOSTLY_NUMBERS:
        return None  # a column of categories
    if separated:
        shown = ", ".join(f"line {i + 2}: {cells[i]!r}" for i in separated[:3])
        raise UserError(
            f"column {name!r} of {where} writes its numbers with separators ({shown}); data.decimal=, reads 1,5 as "
            f"1.5 and data.thousands=<, or . or ' '> reads 1,737 as 1737: say which"
        )
    shown = ", ".join(f"line {i + 2}: {cells[i]!r}" for i in other[:3])
    raise UserError(
        f"column {name!r} of {where} holds numbers but {len(other)} of its {len(present)} cells are not "
        f"({shown}); correct those cells or leave them empty (data.missing decides about empty cells)"
    )


def read_csv(path: Path, sep: str | None = None) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of a CSV file (its delimiter `sep`, or found by csv.Sniffer); one sentence when it is
    none, or when two columns share a name."""
    if not path.is_file():
        raise UserError(f"data.path={path} {'is a folder' if path.is_dir() else 'does not exist'}; give a CSV file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError) as err:
        raise UserError(f"{path} cannot be read as UTF-8 text ({type(err).__name__}); save the table as CSV") from err
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|") if sep is None else None
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(text.splitlines(), dialect) if sep is None else csv.reader(text.splitlines(), delimiter=sep)
    rows = [row for row in reader if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise UserError(f"{path} holds no table: a header row and at least one row of values are needed")
    header = [name.strip() for name in rows[0]]
    twice = sorted(name for name, n in Counter(header).items() if n > 1)
    if twice:
        raise UserError(
            f"{path} names {len(twice)} column(s) twice ({', '.join(map(repr, twice[:5]))}); every column needs a name "
            f"of its own, so the target and the features cannot be told apart"
        )
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise UserError(f"{path}, line {i}: {len(row)} values for the {len(header)} columns of the header")
    return header, [[cell.strip() for cell in row] for row in rows[1:]]


class TableDataModule(InMemoryDataModule):
    """Feature vectors from the columns of a table, and the target column's labels or values."""

    kind = "rows"
    name = "table"

    def __init__(
        self,
        path: str = "",
        target: str = "",
        task: Task = "auto",
        missing: Literal["refuse", "fill"] = "refuse",
        categorical: Literal["onehot", "refuse"] = "onehot",
        sep: Literal[",", ";", "\t", "|"] | None = None,
        decimal: Literal[".", ","] = ".",
        thousands: Literal["", ",", ".", " ", "'"] = "",
        val_fraction: HeldOut = 0.15,
        test_fraction: HeldOut = 0.2,
        batch_size: BatchSize = 32,
        seed: Seed = 0,
        num_workers: NonNegativeCount = 0,
        pin_memory: bool = False,
    ):
        super().__init__(batch_size, seed, num_workers, pin_memory)
        check_fractions(val_fraction, test_fraction)
        self.path, self.target, self.task = Path(path) if path else None, target, task
        self.missing, self.categorical = missing, categorical
        if decimal == thousands:
            raise UserError(f"data.decimal and data.thousands are both {decimal!r}; a number needs them apart")
        self.sep, self.decimal, self.thousands = sep, decimal, thousands
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self._table: dict | None = None
        self.trained: list | None = None  # how the columns were encoded in training, when read for a checkpoint
        self.trained_labels: list[str] | None = None
        self.trained_scale: list[float] | None = None

    # --- the table's columns ---------------------------------------------------------------------------------
    def columns(self) -> tuple[dict[str, list[str]], list[str], str]:
        """Feature columns (name -> cells as text), the target column's cells, and where they come from."""
        if self.path is None:
            raise UserError("data=table needs a file and its target: data.path=FILE.csv data.target=COLUMN")
        header, rows = read_csv(self.path, self.sep)
        if self.target not in header:
            raise UserError(
                f"data.target={self.target!r} is not a column of {self.path}; its columns: {', '.join(header)}"
            )
        index = header.index(self.target)
        features = {name: [row[i] for row in rows] for i, name in enumerate(header) if i != index}
        if not features:
            raise UserError(f"{self.path} has no column besides the target {self.target!r} to learn from")
        return features, [row[index] for row in rows], str(self.path)

    def task_of(self, target: list[str], where: str) -> tuple[str, str]:
        """The task, and why it was read so."""
        numbers = numbers_of(self.target, target, where, self.decimal, self.thousands)
        if self.task != "auto":
            if self.task == "regression" and numbers is None:
                bad = next(c for c in target if as_number(c, self.decimal, self.thousands) is None)
                raise UserError(f"data.task=regression needs a numeric target, but {where} has {bad!r} in it")
            return self.task, "data.task says so"
        if numbers is None:
            return "classification", "its values are labels"
        values = len(set(numbers))
        if all(float(n).is_integer() for n in numbers) and values <= FEW_CLASSES:
            return "classification", f"whole numbers taking {values} values (data.task=regression says otherwise)"
        return "regression", f"numbers taking {values} values (data.task=classification says otherwise)"

    def table(self) -> dict:
        """Every split as tensors, with what the columns turned into; built once."""
        if self._table is not None:
            return self._table
        features, target, where = self.columns()
        if any(is_missing(cell) for cell in target):
            row = next(i for i, cell in enumerate(target) if is_missing(cell)) + 2
            raise UserError(f"{where}, line {row}: the target {self.target!r} is missing; remove the row")
        task, why = self.task_of(target, where)
        if task == "classification":
            labels = self.trained_labels or sorted(
                set(target), key=lambda v: (as_number(v) is None, as_number(v) or 0, v)
            )
            unknown = sorted(set(target) - set(labels))
            if unknown:
                raise UserError(f"{where} has labels the checkpoint's model never saw: {', '.join(unknown[:5])}")
            y = torch.tensor([labels.index(v) for v in target])
        else:
            labels = None
            y = torch.tensor([as_number(v, self.decimal, self.thousands) for v in target], dtype=torch.float64).float()
        n = len(target)
        strata = y if task == "classification" and min(Counter(y.tolist()).values()) >= 3 else torch.zeros(n)
        train, val, test = stratified_split(
            strata, self.val_fraction, self.test_fraction, self.seed, f"the table {where}"
        )
        x, made = self.encode(features, train.tolist(), where)
        scale = None
        if task == "regression":
            spread = y[train].std().item() if len(train) > 1 else 1.0  # one training row has no spread
            mean, std = self.trained_scale or (y[train].mean().item(), max(spread, 1e-12))
            y, scale = (y - mean) / std, [mean, std]
        self._table = {"x": x, "y": y, "splits": (train, val, test), "task": task, "labels": labels,
                       "encoding": made, "scale": scale}  # fmt: skip
        if self.path is not None and not self.trained:  # what a user's own file was read as, once
            numeric = sum(1 for m in made if len(m) == 3)
            print(f"read {where}: {n} rows; target {self.target!r} as {task} ({why}); {numeric} numeric and "
                  f"{len(features) - numeric} categorical columns, {x.shape[1]} inputs")  # fmt: skip
        return self._table

    def encode(self, features: dict[str, list[str]], train: list[int], where: str) -> tuple[torch.Tensor, list]:
        """Numeric columns standardised on the training rows; categorical ones one-hot (values seen in training).

        Returns the columns and, per column, how it was made: [name, mean, std] or [name, value] (one-hot). A
        table read for a checkpoint (`adopt`) is encoded the checkpoint's way."""
        trained = {tuple(c[:1]) if len(c) == 3 else tuple(c): c for c in self.trained or []}
        out, made = [], []
        for name, cells in features.items():
            gap = {i for i, c in enumerate(cells) if is_missing(c)}
            if gap and self.missing == "refuse":
                raise UserError(
                    f"{where}, line {min(gap) + 2}: column {name!r} has no value; data.missing=fill fills it from "
                    f"the training rows, or remove the row (it reads {cells[min(gap)]!r})"
                )
            numbers = numbers_of(name, cells, where, self.decimal, self.thousands)
            if self.trained and ((name,) in trained) != (numbers is not None):
                kind = "numbers" if (name,) in trained else "categories"
                raise UserError(f"column {name!r} of {where} does not hold {kind}, as it did for the checkpoint")
            if numbers is not None:
                if self.trained:
                    _, mean, std = trained[(name,)]
                else:
                    known = [numbers[i] for i in train if numbers[i] is not None]
                    if not known:
                        raise UserError(
                            f"column {name!r} of {where} has no value in any of its {len(train)} training rows, so "
                            f"nothing can be learned from it or filled into it; leave it out or add rows"
                        )
                    mean, std = float(np.mean(known)), float(np.std(known)) or 1.0
                column = torch.tensor([mean if v is None else v for v in numbers], dtype=torch.float32)
                out.append((column - mean) / std)
                made.append([name, mean, std])
                continue
            if self.categorical == "refuse":
                bad = next(c for i, c in enumerate(cells) if i not in gap)
                raise UserError(
                    f"column {name!r} of {where} holds categories ({bad!r}, ...); data.categorical=onehot encodes "
                    f"them, or leave the column out of the table"
                )
            seen = Counter(cells[i] for i in train if i not in gap)
            if not self.trained and len(seen) > max(MAX_CATEGORIES, len(train) // 2):
                raise UserError(
                    f"column {name!r} of {where} takes {len(seen)} values in {len(train)} training rows: an "
                    f"identifier or free text, not a category to learn from; leave it out of the table"
                )
            values = [c[1] for c in self.trained if c[0] == name] if self.trained else sorted(seen)
            common = seen.most_common(1)[0][0] if seen else ""
            index = {value: k for k, value in enumerate(values)}
            codes = torch.tensor([index.get(common if i in gap else c, -1) for i, c in enumerate(cells)])
            onehot = torch.zeros(len(cells), len(values))  # a value the training rows never had: all zeros
            known = codes >= 0
            onehot[known.nonzero().squeeze(1), codes[known]] = 1.0
            out += list(onehot.unbind(1))
            made += [[name, value] for value in values]
        return torch.stack(out, 1), made

    def adopt(self, trained_on: DataDescription) -> None:
        """Read the table as the checkpoint's model was trained: its columns' scales and categories, its labels."""
        self.trained = trained_on.feature_encoding
        self.trained_labels, self.trained_scale = trained_on.label_names, trained_on.target_scale

    # --- what every in-memory set provides ----------------------------------------------------------------------
    @property
    def description(self) -> DataDescription:
        table = self.table()
        return DataDescription(
            "rows", input_shape=[table["x"].shape[1]], num_classes=len(table["labels"] or []) or None,
            task=table["task"], label_names=table["labels"], feature_encoding=table["encoding"],
            target_scale=table["scale"],
        )  # fmt: skip

    def prepare_data(self) -> None:
        self.table()

    def load(self):
        table = self.table()
        return {
            name: TensorSplit(table["x"][index], table["y"][index])
            for name, index in zip(("train", "val", "test"), table["splits"])
        }


class BundledTableDataModule(TableDataModule):
    """One of the tables scikit-learn ships (offline): iris, wine, breast_cancer (classes), diabetes (a number)."""

    def __init__(
        self,
        dataset: Literal["iris", "wine", "breast_cancer", "diabetes"] = "iris",
        val_fraction: HeldOut = 0.15,
        test_fraction: HeldOut = 0.2,
        batch_size: BatchSize = 32,
        seed: Seed = 0,
        num_workers: NonNegativeCount = 0,
        pin_memory: bool = False,
    ):
        task = "regression" if dataset == "diabetes" else "classification"
        super().__init__("", "target", task, val_fraction=val_fraction, test_fraction=test_fraction,
                         batch_size=batch_size, seed=seed, num_workers=num_workers, pin_memory=pin_memory)  # fmt: skip
        self.dataset, self.name = dataset, dataset

    def columns(self) -> tuple[dict[str, list[str]], list[str], str]:
        import sklearn.datasets

        loaded = getattr(sklearn.datasets, f"load_{self.dataset}")()
        data = loaded.data
        named = getattr(loaded, "feature_names", None)  # a list for some tables, an array for others
        names = [str(n) for n in named] if named is not None else [f"x{i}" for i in range(data.shape[1])]
        features = {name: [repr(float(v)) for v in data[:, i]] for i, name in enumerate(names)}
        target = loaded.target
        names_of = getattr(loaded, "target_names", None)
        if self.task == "classification" and names_of is not None:
            return features, [str(names_of[int(t)]) for t in target], f"scikit-learn's {self.dataset}"
        return features, [repr(float(t)) for t in target], f"scikit-learn's {self.dataset}"
