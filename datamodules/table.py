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
from collections import Counter
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from datamodules.base import BatchSize, HeldOut, InMemoryDataModule, TensorSplit, check_fractions, stratified_split
from datamodules.description import DataDescription
from zoo.errors import UserError
from zoo.ranges import NonNegativeCount, Seed

MISSING = {"", "na", "nan", "null", "none", "?", "n/a"}
FEW_CLASSES = 20  # a whole-number target with at most this many values is a class label
Task = Literal["auto", "classification", "regression"]


def as_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of a CSV file (its delimiter found by csv.Sniffer); one sentence when it is none."""
    if not path.is_file():
        raise UserError(f"data.path={path} {'is a folder' if path.is_dir() else 'does not exist'}; give a CSV file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError) as err:
        raise UserError(f"{path} cannot be read as UTF-8 text ({type(err).__name__}); save the table as CSV") from err
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = [row for row in csv.reader(text.splitlines(), dialect) if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise UserError(f"{path} holds no table: a header row and at least one row of values are needed")
    header = [name.strip() for name in rows[0]]
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
        header, rows = read_csv(self.path)
        if self.target not in header:
            raise UserError(
                f"data.target={self.target!r} is not a column of {self.path}; its columns: {', '.join(header)}"
            )
        index = header.index(self.target)
        features = {name: [row[i] for row in rows] for i, name in enumerate(header) if i != index}
        if not features:
            raise UserError(f"{self.path} has no column besides the target {self.target!r} to learn from")
        return features, [row[index] for row in rows], str(self.path)

    def task_of(self, target: list[str], where: str) -> str:
        numbers = [as_number(cell) for cell in target]
        if self.task != "auto":
            if self.task == "regression" and None in numbers:
                bad = target[numbers.index(None)]
                raise UserError(f"data.task=regression needs a numeric target, but {where} has {bad!r} in it")
            return self.task
        if None in numbers:
            return "classification"
        whole = all(float(n).is_integer() for n in numbers)
        return "classification" if whole and len(set(numbers)) <= FEW_CLASSES else "regression"

    def table(self) -> dict:
        """Every split as tensors, with what the columns turned into; built once."""
        if self._table is not None:
            return self._table
        features, target, where = self.columns()
        if any(cell.lower() in MISSING for cell in target):
            row = next(i for i, cell in enumerate(target) if cell.lower() in MISSING) + 2
            raise UserError(f"{where}, line {row}: the target {self.target!r} is missing; remove the row")
        task = self.task_of(target, where)
        if task == "classification":
            labels = self.trained_labels or sorted(
                set(target), key=lambda v: (as_number(v) is None, as_number(v) or 0, v)
            )
            unknown = sorted(set(target) - set(labels))
            if unknown:
                raise UserError(f"{where} has labels the checkpoint's model never saw: {', '.join(unknown[:5])}")
            y = torch.tensor([labels.index(v) for v in target])
        else:
            labels, y = None, torch.tensor([float(v) for v in target])
        n = len(target)
        strata = y if task == "classification" and min(Counter(y.tolist()).values()) >= 3 else torch.zeros(n)
        train, val, test = stratified_split(strata, self.val_fraction, self.test_fraction, self.seed)
        x, made = self.encode(features, train.tolist(), where)
        scale = None
        if task == "regression":
            mean, std = self.trained_scale or (y[train].mean().item(), y[train].std().clamp_min(1e-12).item())
            y, scale = (y - mean) / std, [mean, std]
        self._table = {"x": x, "y": y, "splits": (train, val, test), "task": task, "labels": labels,
                       "encoding": made, "scale": scale}  # fmt: skip
        return self._table

    def encode(self, features: dict[str, list[str]], train: list[int], where: str) -> tuple[torch.Tensor, list]:
        """Numeric columns standardised on the training rows; categorical ones one-hot (values seen in training).

        Returns the columns and, per column, how it was made: [name, mean, std] or [name, value] (one-hot). A
        table read for a checkpoint (`adopt`) is encoded the checkpoint's way."""
        trained = {tuple(c[:1]) if len(c) == 3 else tuple(c): c for c in self.trained or []}
        out, made = [], []
        for name, cells in features.items():
            gap = {i for i, c in enumerate(cells) if c.lower() in MISSING}
            if gap and self.missing == "refuse":
                raise UserError(
                    f"{where}, line {min(gap) + 2}: column {name!r} has no value; data.missing=fill fills it from "
                    f"the training rows, or remove the row"
                )
            numbers = [None if i in gap else as_number(c) for i, c in enumerate(cells)]
            numeric = (
                (name,) in trained
                if self.trained
                else all(numbers[i] is not None for i in range(len(cells)) if i not in gap)
            )
            if numeric:
                if self.trained:
                    _, mean, std = trained[(name,)]
                else:
                    known = [numbers[i] for i in train if numbers[i] is not None]
                    mean = float(np.mean(known)) if known else 0.0
                    std = float(np.std(known)) or 1.0
                if any(numbers[i] is None for i in range(len(cells)) if i not in gap):
                    bad = next(cells[i] for i in range(len(cells)) if i not in gap and numbers[i] is None)
                    raise UserError(f"column {name!r} of {where} holds {bad!r}, but the checkpoint read it as numbers")
                column = [mean if v is None else v for v in numbers]
                out.append((torch.tensor(column, dtype=torch.float32) - mean) / std)
                made.append([name, mean, std])
                continue
            if self.categorical == "refuse":
                bad = next(c for i, c in enumerate(cells) if i not in gap and as_number(c) is None)
                raise UserError(
                    f"column {name!r} of {where} holds categories ({bad!r}, ...); data.categorical=onehot encodes "
                    f"them, or leave the column out of the table"
                )
            seen = Counter(cells[i] for i in train if i not in gap)
            values = [c[1] for c in self.trained if c[0] == name] if self.trained else sorted(seen)
            common = seen.most_common(1)[0][0] if seen else ""
            filled = [common if i in gap else c for i, c in enumerate(cells)]
            for value in values:  # a value the training rows never had becomes all zeros
                out.append(torch.tensor([float(c == value) for c in filled]))
                made.append([name, value])
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
        super().__init__("", "target", task, "refuse", "onehot", val_fraction, test_fraction, batch_size, seed,
                         num_workers, pin_memory)  # fmt: skip
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
