"""A folder of your own images: data=images data.path=DIR.

The layout every PyTorch user knows from torchvision's ImageFolder: DIR/<class>/<image> (sub-folders of a
class folder read too), the class names from the folder names (sorted); or DIR/train/<class>/... and
DIR/test/<class>/... for fixed splits (DIR/val/<class>/... too, or the validation split comes out of train);
or images directly in DIR (one class, for the generative models). PNG, JPEG, BMP, GIF, WebP and TIFF of any
mode (brought to 8 bits by `eight_bits`), grey or colour (`channels`), resized to `size` (by default the
size they all share); one line says what was read and which files were skipped. They are decoded once, with
a progress bar, into uint8 tensors in memory like the other image sets, and kept in a cache keyed by the
folder's content (names, sizes, times), so the next run starts at once. Mean and standard deviation come from
the training split.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch

from datamodules.base import BatchSize, HeldOut, Scaling, TensorSplit, check_fractions, stratified_split
from datamodules.description import DataDescription
from datamodules.vision import VisionDataModule, validation_size
from zoo.errors import UserError
from zoo.files import whole
from zoo.ranges import NON_EMPTY, Count, NonNegativeCount, Range, Seed

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
Size = Annotated[int, Range(4, 4096)] | Annotated[list[int], Range(4, 4096), NON_EMPTY]
SPLITS = ("train", "val", "test")  # DIR/train, DIR/test (and DIR/val): fixed splits, as ImageFolder users keep them


def image_files(folder: Path, skipped: Counter, recursive: bool) -> list[Path]:
    """The images in a folder (in its sub-folders too, as torchvision's ImageFolder reads a class folder); what is
    not an image is counted in `skipped` by its suffix."""
    found = []
    for path in sorted(folder.rglob("*") if recursive else folder.iterdir()):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        if path.suffix.lower() in SUFFIXES:
            found.append(path)
        else:
            skipped[path.suffix.lower() or path.name] += 1
    return found


def class_folders(root: Path, skipped: Counter) -> dict[str, list[Path]]:
    """class name -> its image files; images directly in `root` are one class named after it."""
    if not root.is_dir():
        raise UserError(f"data.path={root} is not a folder; give a folder of images (DIR/<class>/<image>)")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = image_files(root, Counter(), recursive=False)
    if folders and loose:
        raise UserError(
            f"{root} holds both images ({loose[0].name}, ...) and class folders ({folders[0].name}, ...); put every "
            f"image in the folder of its class"
        )
    if loose:
        return {root.name: image_files(root, skipped, recursive=False)}
    if not folders:
        raise UserError(f"{root} holds no images and no class folders; the layout is DIR/<class>/<image>.png|jpg|bmp")
    classes = {}
    for folder in folders:
        files = image_files(folder, skipped, recursive=True)
        if not files:
            raise UserError(
                f"the class folder {folder} holds no images ({', '.join(SUFFIXES)}); add some or remove the folder"
            )
        classes[folder.name] = files
    return classes


def is_grey(mode: str) -> bool:
    """Whether an image of PIL mode `mode` is grey (one channel) rather than colour."""
    return mode in ("1", "L", "LA", "F") or mode.startswith("I")


DECODING = "8-bit rule 1"  # in the cache's key: images decoded by another rule are decoded again


def eight_bits(image):
    """Any PIL image as 8 bits per channel, its values' meaning kept (never clipped): a 16-bit grey (mode I;16*, or
    I holding 0..65535, as PNG, TIFF and DICOM exports are read) is scaled from 0..65535; a 32-bit integer or a
    float grey from 0..1 when it lies there, else from the image's own lowest to highest value; transparency is
    laid on white; palette, CMYK and the rest are converted by Pillow's own rule."""
    from PIL import Image

    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if image.mode.startswith("I;16") or (image.mode == "I" and values.min() >= 0 and values.max() <= 65535
                                             and values.max() > 255):  # fmt: skip
            low, high = 0.0, 65535.0
        elif image.mode == "F" and values.min() >= 0 and values.max() <= 1:
            low, high = 0.0, 1.0
        elif image.mode == "I" and values.min() >= 0 and values.max() <= 255:
            low, high = 0.0, 255.0
        else:
            low, high = float(values.min()), float(values.max())
        scaled = (values - low) / ((high - low) or 1.0) * 255.0
        return Image.fromarray(np.rint(scaled).astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image


def decode(path: Path, mode: str, size: tuple[int, int] | None) -> np.ndarray:
    """One image as uint8 (C, H, W), in 8 bits (eight_bits), converted to grey ("L") or colour ("RGB") and resized
    to (h, w)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image = eight_bits(image).convert(mode)
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.uint8)
    except Exception as err:  # any file PIL cannot decode is the same mistake for the user
        reason = (str(err).splitlines() or [type(err).__name__])[0][:120]
        raise UserError(f"{path} cannot be read as an image ({reason}); remove it or replace it") from err
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def image_shape(path: Path) -> tuple[tuple[int, int], str]:
    """(height, width) and PIL's mode of an image, read from its header only."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return (image.size[1], image.size[0]), image.mode
    except Exception as err:
        reason = (str(err).splitlines() or [type(err).__name__])[0][:120]
        raise UserError(f"{path} cannot be read as an image ({reason}); remove it or replace it") from err


class ImageFolderDataModule(VisionDataModule):
    """Images in class folders (see the module's docstring)."""

    name = "images"
    flip = True  # mirror when augmenting: natural images (a class whose mirror image is another: augment=false)

    def __init__(
        self,
        path: str = "",
        channels: Literal[1, 3] | None = None,
        size: Size | None = None,
        val_fraction: HeldOut = 0.1,
        test_fraction: HeldOut = 0.2,
        val_size: Count | None = None,
        augment: bool = False,
        scaling: Scaling = "standard",
        cache: str | None = None,
        batch_size: BatchSize = 64,
        seed: Seed = 0,
        num_workers: NonNegativeCount = 0,
        pin_memory: bool = False,
        shift: Annotated[int, Range(1, 16)] = 4,
        padding: Literal["zeros", "reflect"] = "zeros",
    ):
        super().__init__(".", False, batch_size, val_size, augment, scaling, seed, num_workers, pin_memory, shift,
                         padding)  # fmt: skip
        if not path:
            raise UserError("data=images needs a folder: data.path=/path/to/images (DIR/<class>/<image>)")
        check_fractions(val_fraction, test_fraction)
        self.path, self.channels, self.val_fraction, self.test_fraction = (
            Path(path),
            channels,
            val_fraction,
            test_fraction,
        )
        self.size = None if size is None else (size, size) if isinstance(size, int) else (size[0], size[-1])
        self.cache = None if cache is None else Path(cache)
        self._decoded: dict | None = None
        self._said: str | None = None  # the line that says what was read, printed once

    # --- reading the folder ---------------------------------------------------------------------------------
    def layout(self) -> dict[str, dict[str, list[Path]]]:
        """split -> class -> files: {"all": ...} for one folder, {"train": ..., "test": ...} (and "val") for fixed
        splits. Says once what it read and what it skipped."""
        skipped: Counter = Counter()
        present = [split for split in SPLITS if (self.path / split).is_dir()]
        if "train" in present and "test" not in present:
            raise UserError(
                f"{self.path} holds {' and '.join(f'{p}/' for p in present)} but no test/: fixed splits are train/ and "
                f"test/ (val/ too, or the validation images come out of train/); add test/, or rename the folders if "
                f"they are classes"
            )
        if "train" in present:
            found = {split: class_folders(self.path / split, skipped) for split in present}
            for split in present[1:]:
                unknown = sorted(set(found[split]) - set(found["train"]))
                if unknown:
                    raise UserError(f"{self.path / split} has classes the training folder lacks: {', '.join(unknown)}")
        else:
            found = {"all": class_folders(self.path, skipped)}
        if self._said is None:
            images = sum(len(files) for classes in found.values() for files in classes.values())
            classes = len(set().union(*(set(c) for c in found.values())))
            others = ", ".join(f"{n} {kind}" for kind, n in skipped.most_common())
            splits = f" ({', '.join(f'{split}/' for split in found)})" if "all" not in found else ""
            self._said = f"read {images} images in {classes} classes from {self.path}{splits}" + (
                f"; skipped {sum(skipped.values())} files that are no images: {others}" if skipped else ""
            )
            print(self._said, flush=True)
        return found

    def plan(self, layout: dict) -> tuple[list[str], tuple[int, int], str]:
        """The class names, the size every image is served at and the colour mode, before decoding anything."""
        classes = sorted(set().union(*(set(c) for c in layout.values())))
        files = [f for split in layout.values() for names in split.values() for f in names]
        shapes = Counter()
        modes = set()
        example = {}
        for path in files:
            shape, mode = image_shape(path)
            shapes[shape] += 1
            modes.add(mode)
            example.setdefault(shape, path)
        if self.size is None and len(shapes) > 1:
            (common, n), *others = shapes.most_common()
            other = others[0][0]
            raise UserError(
                f"the images of {self.path} have {len(shapes)} sizes ({common[0]}x{common[1]}: {n} files; "
                f"{other[0]}x{other[1]}: {shapes[other]}, e.g. {example[other]}); set data.size={common[0]} (or "
                f"[height, width]) to serve them all at one size"
            )
        size = self.size or next(iter(shapes))
        if self.size is None and not all(4 <= side <= 4096 for side in size):  # data.size's own range
            raise UserError(
                f"the images of {self.path} are {size[0]}x{size[1]} pixels, outside the 4 to 4096 a model is served "
                f"at; set data.size=<side> (e.g. data.size=64) to resize them"
            )
        decoded = len(files) * 3 * size[0] * size[1]  # bytes of uint8 pixels, colour at most
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        if decoded > memory // 2:
            raise UserError(
                f"the {len(files)} images of {self.path} at {size[0]}x{size[1]} take {decoded / 2**30:.1f} GiB "
                f"decoded, more than half of this machine's {memory / 2**30:.0f} GiB; set a smaller data.size"
            )
        grey = all(is_grey(m) for m in modes)
        channels = self.channels or (1 if grey else 3)
        return classes, size, "L" if channels == 1 else "RGB"

    def cache_file(self, layout: dict, size, mode) -> Path | None:
        """Where the decoded images of this folder's content, size and colour mode are kept (data.cache, in
        ZOO_HOME's data folder by default; null keeps none, and nothing is ever written beside the user's data)."""
        if self.cache is None:
            return None
        entries = [
            (split, name, str(p.relative_to(self.path)), p.stat().st_size, p.stat().st_mtime_ns)
            for split, classes in layout.items()
            for name, files in classes.items()
            for p in files
        ]
        key = hashlib.sha256(json.dumps([entries, list(size), mode, DECODING]).encode()).hexdigest()[:20]
        return self.cache / f"images-{self.path.name}-{key}.pt"

    def decoded(self) -> dict:
        """{"classes", "splits": {split: (uint8 x, y)}}: decoded once, then read from the cache."""
        if self._decoded is not None:
            return self._decoded
        layout = self.layout()
        classes, size, mode = self.plan(layout)
        cached = self.cache_file(layout, size, mode)
        if cached is not None and cached.is_file():
            try:
                stored = torch.load(cached, weights_only=True)
                self._decoded = {"classes": list(stored["classes"]), "splits": dict(stored["splits"])}
                return self._decoded
            except Exception:  # a damaged cache is decoded again
                pass
        from rich.progress import track

        files = [(split, classes.index(name), p) for split, found in layout.items() for name, ps in found.items()
                 for p in ps]  # fmt: skip
        arrays = {}
        for split, label, path in track(files, description=f"decoding {len(files)} images", transient=True):
            arrays.setdefault(split, ([], []))
            arrays[split][0].append(decode(path, mode, size))
            arrays[split][1].append(label)
        splits = {s: (torch.from_numpy(np.stack(x)), torch.tensor(y)) for s, (x, y) in arrays.items()}
        self._decoded = {"classes": classes, "splits": splits}
        try:  # the cache is a convenience: a folder it cannot be written to costs the next run the decoding
            if cached is not None:
                with whole(cached) as partial:
                    torch.save(self._decoded, partial)
        except (OSError, UserError):
            pass
        return self._decoded

    # --- what every in-memory image set provides -----------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        x = next(iter(self.decoded()["splits"].values()))[0]
        return tuple(x.shape[1:])

    @property
    def description(self) -> DataDescription:
        classes = self.decoded()["classes"]
        return DataDescription(
            "images", input_shape=list(self.shape), num_classes=len(classes), levels=256, scaling=self.scaling,
            label_names=classes,
        )  # fmt: skip

    def prepare_data(self) -> None:
        self.decoded()

    def load(self):
        splits = self.decoded()["splits"]
        if "all" in splits:
            x, y = splits["all"]
            labels = y if len(set(y.tolist())) > 1 and min(Counter(y.tolist()).values()) >= 3 else torch.zeros_like(y)
            train, val, test = stratified_split(
                labels, self.val_fraction, self.test_fraction, self.seed, f"the image folder {self.path}"
            )
            parts = {"train": (x[train], y[train]), "val": (x[val], y[val]), "test": (x[test], y[test])}
        elif "val" in splits:  # DIR/val/: the user's own validation images
            parts = {split: splits[split] for split in SPLITS}
        else:
            x, y = splits["train"]
            n_val = self.val_size or validation_size(len(x))
            if not 0 < n_val < len(x):
                raise UserError(f"data.val_size must be between 1 and {len(x) - 1}, got {n_val}")
            order = torch.randperm(len(x), generator=torch.Generator().manual_seed(self.seed))
            parts = {"train": (x[order[n_val:]], y[order[n_val:]]), "val": (x[order[:n_val]], y[order[:n_val]])}
            parts["test"] = splits["test"]
        train_x = parts["train"][0].float().div(255)
        self.mean = tuple(train_x.mean((0, 2, 3)).tolist())
        self.std = tuple(train_x.std((0, 2, 3)).clamp_min(1e-3).tolist())
        return {name: TensorSplit(x, y) for name, (x, y) in parts.items()}
