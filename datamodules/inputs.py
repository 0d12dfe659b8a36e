"""New inputs for a trained model, served as its training data was: evaluate.py mode=predict and the demo page.

What the serving needs comes from the checkpoint alone: the data's description (image shape and pixel levels, a
table's columns with their scales and categories, the vocabulary), the data config it was read with (a table's
separators) and the training split's pixel statistics (`statistics`, from `input_statistics()`). An input the
model cannot take is named with its reason in `skipped` (an unreadable file, a grey image for a colour model, a
row with an empty cell); a path that holds no input at all is one sentence.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from datamodules.base import standardised
from datamodules.description import DataDescription
from datamodules.images import SUFFIXES, decode, image_shape, is_grey
from datamodules.table import TableDataModule, is_missing, read_csv
from datamodules.text import Vocab, prompt_tokens
from zoo.errors import UserError


@dataclass
class Inputs:
    """Every input in its order: its name (a file, a table's line, a prompt) and why it was skipped (None: served);
    the served inputs (no batch dimension) and, for images, their pixels in [0, 1] for a picture."""

    entries: list[tuple[str, str | None]] = field(default_factory=list)
    x: list[torch.Tensor] = field(default_factory=list)
    pixels: list[torch.Tensor] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # what a served input was read as, where it is not plain

    def add(self, name: str, x: torch.Tensor, pixels: torch.Tensor | None = None) -> None:
        self.entries.append((name, None))
        self.x.append(x)
        if pixels is not None:
            self.pixels.append(pixels)

    def skip(self, name: str, why: str) -> None:
        self.entries.append((name, why))

    @property
    def names(self) -> list[str]:
        return [name for name, why in self.entries if why is None]

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return [(name, why) for name, why in self.entries if why is not None]


def serve_pixels(x: torch.Tensor, description: DataDescription, statistics: dict) -> torch.Tensor:
    """uint8 images (N, C, H, W) as the model saw its training images: at its pixel levels, in [0, 1] or
    standardised with the training split's mean and deviation."""
    unit = x.float() / 255
    levels = description.levels or 256
    if levels != 256:  # e.g. digits' 17 intensities
        unit = torch.round(unit * (levels - 1)) / (levels - 1)
    return standardised(unit, statistics["mean"], statistics["std"]) if description.scaling == "standard" else unit


def image_paths(path: Path) -> list[Path]:
    """An image file, or every image under a folder (sub-folders too), in a stable order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UserError(f"inputs={path} does not exist; give an image file or a folder of images")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise UserError(f"inputs={path} holds no images ({', '.join(SUFFIXES)}); give an image or a folder of them")
    return files


def read_images(path: Path, description: DataDescription, statistics: dict) -> Inputs:
    channels, height, width = description.input_shape
    out = Inputs()
    for file in image_paths(path):
        try:
            _, mode = image_shape(file)
            if is_grey(mode) != (channels == 1):
                have, want = ("grey", "colour (3 channels)") if channels == 3 else ("colour", "grey (1 channel)")
                out.skip(str(file), f"a {have} image; the model reads {want} images")
                continue
            array = decode(file, "L" if channels == 1 else "RGB", (height, width))
        except UserError as err:
            out.skip(str(file), str(err).removeprefix(f"{file} "))
            continue
        pixels = torch.tensor(array)[None]
        out.add(str(file), serve_pixels(pixels, description, statistics)[0], pixels[0].float() / 255)
    return out


def read_rows(path: Path, description: DataDescription, data_config: dict) -> Inputs:
    """A CSV file's rows encoded as the checkpoint's table was (the target column, if present, is ignored)."""
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise UserError(f"inputs={path} {what}; give a CSV file with the training table's columns")
    header, rows = read_csv(path, data_config.get("sep"))
    wanted = list(dict.fromkeys(c[0] for c in description.feature_encoding))
    missing = [name for name in wanted if name not in header]
    if missing:
        raise UserError(
            f"inputs={path} lacks the column(s) {', '.join(map(repr, missing[:5]))} the model reads; its columns "
            f"must include {', '.join(map(repr, wanted))}"
        )
    column = {name: header.index(name) for name in wanted}
    refuse = data_config.get("missing", "refuse") == "refuse"
    why = {}
    for line, row in enumerate(rows, start=2):
        empty = [name for name in wanted if is_missing(row[column[name]])]
        if empty and refuse:
            why[line] = f"column {empty[0]!r} has no value (the model was trained with data.missing=refuse)"
    keep = [(line, row) for line, row in enumerate(rows, start=2) if line not in why]
    encoded = iter(())
    if keep:
        table = TableDataModule(**{k: data_config[k] for k in ("missing", "decimal", "thousands") if k in data_config})
        table.adopt(description)
        features = {name: [row[column[name]] for _, row in keep] for name in wanted}
        encoded = iter(table.encode(features, [], f"inputs={path}")[0].unbind(0))
    categories = {}
    for made in description.feature_encoding:
        if len(made) == 2:
            categories.setdefault(made[0], set()).add(made[1])
    out = Inputs()
    for line, row in enumerate(rows, start=2):
        if line in why:
            out.skip(f"{path}:{line}", why[line])
            continue
        out.add(f"{path}:{line}", next(encoded))
        unseen = [(name, row[column[name]]) for name, values in categories.items()
                  if row[column[name]] not in values and not is_missing(row[column[name]])]  # fmt: skip
        if unseen:
            out.notes[f"{path}:{line}"] = "; ".join(
                f"{name}={value!r} never appeared in training: read as none of its values" for name, value in unseen
            )
    return out


def read_points(path: Path) -> Inputs:
    """Points in the plane: a CSV file whose first two columns are numbers (a header row is allowed)."""
    if not path.is_file():
        raise UserError(f"inputs={path} does not exist; give a CSV file of points, two numbers per line")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    out = Inputs()
    for line, row in enumerate(rows, start=1):
        try:
            point = [float(cell) for cell in row[:2]]
        except ValueError:
            if line > 1:  # the first line may be a header
                out.skip(f"{path}:{line}", f"{row[:2]} are not two numbers")
            continue
        if len(point) < 2 or not np.isfinite(point).all():
            out.skip(f"{path}:{line}", f"{row} is not a point of two finite numbers")
            continue
        out.add(f"{path}:{line}", torch.tensor(point, dtype=torch.float32))
    return out


def read_prompts(path: Path | None, prompt: str | None, description: DataDescription) -> Inputs:
    """A language model's prompts: `prompt`, or every non-empty line of a text file; tokens as in training."""
    if path is not None and not path.is_file():
        raise UserError(f"inputs={path} does not exist; give a text file (one prompt per line) or prompt=...")
    if path is not None:
        try:
            lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError as err:
            raise UserError(f"inputs={path} is not UTF-8 text; give a text file, one prompt per line") from err
    else:
        lines = [str(prompt)]
    vocab = Vocab(description.vocab)
    out = Inputs()
    for text in lines:
        tokens = prompt_tokens(text, description.level)
        try:
            ids = vocab.encode(tokens)
        except UserError as err:
            out.skip(text, str(err))
            continue
        if not len(ids):
            out.skip(text, "no token after tokenisation")
            continue
        out.add(text, ids)
    return out


def read_inputs(
    path: str | None, prompt: str | None, description: DataDescription, data_config: dict, statistics: dict
) -> Inputs:
    """The inputs at `path` (or the prompt) for a model trained on data of this description."""
    kind = description.kind
    if prompt is not None and kind != "tokens":
        raise UserError("prompt= is read by language models; give inputs=PATH (an image, a folder or a CSV file)")
    if path is None and not (kind == "tokens" and prompt is not None):
        what = {"images": "an image or a folder of images", "rows": "a CSV file of rows", "points": "a CSV file of "
                "points", "tokens": "a text file (one prompt per line), or prompt=..."}.get(kind, "inputs")  # fmt: skip
        raise UserError(f"mode=predict needs inputs=PATH: {what}")
    where = Path(path).expanduser() if path is not None else None
    if kind == "images":
        return read_images(where, description, statistics)
    if kind == "rows":
        return read_rows(where, description, data_config)
    if kind == "points":
        return read_points(where)
    if kind == "tokens":
        return read_prompts(where, prompt, description)
    raise UserError(f"mode=predict reads images, table rows, points or prompts; this model learned from {kind}")
