"""Scenes of a few digits on a canvas, generated offline: the data of the slide "Beyond Classification".

Each scene places 1 to `max_digits` digits in distinct cells of a grid on a blank canvas and keeps
what every task of that slide needs: the pixel mask (semantic segmentation), the boxes with their
labels (object detection) and a caption from a small grammar (image captioning). The same seed gives
the same scenes; the digits of the test scenes are images no training scene uses.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
import torch.nn.functional as F

from datamodules.base import BatchSize, InMemoryDataModule, TensorSplit, stratified_split
from datamodules.description import DataDescription
from zoo.errors import UserError
from zoo.ranges import Count, NonNegative, NonNegativeCount, Range, Seed

SPECIALS = ["<pad>", "<bos>", "<eos>"]
WORDS = ["a", "an", "left", "of", "above", "three", "four", "digits"]
VOCAB = SPECIALS + WORDS + [str(d) for d in range(10)]
PAD, BOS, EOS = 0, 1, 2
INK = 0.5  # a pixel brighter than this belongs to its digit's mask


def caption_words(labels: list[int], cells: list[tuple[int, int]]) -> list[str]:
    """The caption of a scene whose digits `labels` sit in grid cells (row, column).

    One digit: "a 3". Two: "a 3 left of an 8" when they share a row, else "a 3 above an 8" (the first
    in reading order first). More: "three digits 1 4 7", in reading order.
    """
    order = sorted(range(len(labels)), key=lambda i: cells[i])
    digits = [str(labels[i]) for i in order]
    named = lambda d: ["an" if d == "8" else "a", d]  # noqa: E731
    if len(digits) == 1:
        return named(digits[0])
    if len(digits) == 2:
        relation = ["left", "of"] if cells[order[0]][0] == cells[order[1]][0] else ["above"]
        return [*named(digits[0]), *relation, *named(digits[1])]
    return [{3: "three", 4: "four"}[len(digits)], "digits", *digits]


def digit_squares(images: torch.Tensor, size: int) -> torch.Tensor:
    """Digit images (N, h, w) resized to (N, size, size), values in [0, 1]."""
    squares = F.interpolate(images.view(-1, 1, *images.shape[-2:]), size=size, mode="bilinear", antialias=True)
    return squares[:, 0].clamp(0, 1)


def encode_caption(words: list[str], length: int) -> torch.Tensor:
    ids = [BOS] + [VOCAB.index(w) for w in words] + [EOS]
    return torch.tensor(ids + [PAD] * (length - len(ids)))


def decode_caption(ids, vocab: list[str] = VOCAB) -> str:
    """The words of a caption's ids, up to its end (<eos> or padding), without <bos>."""
    pad, bos, eos = SPECIALS
    words = []
    for i in ids:
        word = vocab[int(i)]
        if word in (eos, pad):
            break
        if word != bos:
            words.append(word)
    return " ".join(words)


class ScenesDataModule(InMemoryDataModule):
    """Scenes served as (image, targets): targets holds `mask` (H x W, 0 = background, 1 + digit),
    `boxes` (max_digits x 4, x1 y1 x2 y2 in pixels), `labels` (max_digits, -1 where no digit),
    `caption` (token ids: <bos> words <eos> <pad>...). Images are in [0, 1] (scaling=unit).
    """

    name, kind = "scenes", "scenes"
    caption_length = 8  # <bos> + the longest caption ("four digits d d d d") + <eos>

    def __init__(
        self,
        batch_size: BatchSize = 64,
        train_size: Count = 4000,
        val_size: Count = 500,
        test_size: Count = 1000,
        canvas: Annotated[int, Range(8, 4096)] = 48,
        digit_size: Annotated[int, Range(4, 4096)] = 16,
        max_digits: Annotated[int, Range(1, 4, note="the captions name at most four")] = 4,
        clutter: NonNegativeCount = 0,
        noise: NonNegative = 0.0,
        source: Literal["digits", "mnist"] = "digits",
        root: str = "data",
        download: bool = False,
        seed: Seed = 0,
        num_workers: NonNegativeCount = 0,
        pin_memory: bool = False,
    ):
        super().__init__(batch_size, seed, num_workers, pin_memory)
        self.cells = canvas // (digit_size + 4)  # cells per side; each leaves room to move its digit a little
        if digit_size < 4 or self.cells < 1:
            raise UserError(
                f"data.digit_size must be at least 4 pixels and fit the canvas with a margin "
                f"(data.canvas >= data.digit_size + 4), got digit_size={digit_size}, canvas={canvas}"
            )
        if not 1 <= max_digits <= min(4, self.cells**2):
            raise UserError(
                f"data.max_digits must be between 1 and {min(4, self.cells**2)} (one digit per cell of a "
                f"{self.cells}x{self.cells} grid, and the captions name at most four), got {max_digits}"
            )
        if clutter < 0 or noise < 0:
            raise UserError(f"data.clutter and data.noise must be >= 0, got {clutter} and {noise}")
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}
        self.canvas, self.digit_size, self.max_digits = canvas, digit_size, max_digits
        self.clutter, self.noise, self.source = clutter, noise, source
        self.root, self.download = root, download

    @property
    def description(self) -> DataDescription:
        return DataDescription(
            "scenes", input_shape=[1, self.canvas, self.canvas], num_classes=10, scaling="unit", vocab=VOCAB
        )

    def digit_pools(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Digit images in [0, 1] at digit_size, and labels, for the scenes of each split (disjoint)."""
        if self.source == "mnist":
            from sklearn.model_selection import train_test_split

            from datamodules.vision import MNISTDataModule

            mnist = MNISTDataModule(root=self.root, download=self.download, scaling="unit")
            (x, y), (x_test, y_test) = mnist.read(train=True), mnist.read(train=False)
            train, val = train_test_split(torch.arange(len(y)), test_size=0.2, stratify=y, random_state=self.seed)
            pools = {"train": (x[train], y[train]), "val": (x[val], y[val]), "test": (x_test, y_test)}
            pools = {split: (images.float() / 255, labels) for split, (images, labels) in pools.items()}
        else:
            from sklearn.datasets import load_digits

            digits = load_digits()
            x, y = torch.tensor(digits.images, dtype=torch.float32) / 16, torch.tensor(digits.target)
            split = stratified_split(y, 0.15, 0.25, self.seed)
            pools = {name: (x[index], y[index]) for name, index in zip(("train", "val", "test"), split)}
        return {name: (digit_squares(images, self.digit_size), labels) for name, (images, labels) in pools.items()}

    def load(self) -> dict[str, TensorSplit]:
        pools = self.digit_pools()
        return {split: self.draw(*pools[split], n, offset) for offset, (split, n) in enumerate(self.sizes.items())}

    def draw(self, digits: torch.Tensor, labels: torch.Tensor, n: int, offset: int) -> TensorSplit:
        """n scenes from the pool (digits, labels), seeded by the data seed and the split."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + offset)
        size, cell, k = self.digit_size, self.canvas // self.cells, self.max_digits
        images = torch.zeros(n, 1, self.canvas, self.canvas)
        masks = torch.zeros(n, self.canvas, self.canvas, dtype=torch.uint8)
        boxes, box_labels = torch.zeros(n, k, 4), torch.full((n, k), -1)
        captions = torch.zeros(n, self.caption_length, dtype=torch.long)
        inks = digits > INK
        rows, cols = inks.any(2).float(), inks.any(1).float()  # the box of each digit's ink, within its square
        first = torch.stack([cols.argmax(1), rows.argmax(1)], 1)
        last = torch.stack([size - cols.flip(1).argmax(1), size - rows.flip(1).argmax(1)], 1)
        ink_box = torch.cat([first, last], 1).float()
        counts = torch.randint(1, k + 1, (n,), generator=g)
        for i in range(n):
            cells = torch.randperm(self.cells**2, generator=g)
            picks = torch.randint(len(digits), (k,), generator=g)
            shifts = torch.randint(cell - size + 1, (k, 2), generator=g)
            placed = []
            for j in range(int(counts[i])):
                row, col = divmod(int(cells[j]), self.cells)
                top, left = row * cell + int(shifts[j, 0]), col * cell + int(shifts[j, 1])
                pick = int(picks[j])
                label = int(labels[pick])
                images[i, 0, top : top + size, left : left + size] = digits[pick]
                masks[i, top : top + size, left : left + size][inks[pick]] = label + 1
                boxes[i, j] = ink_box[pick] + torch.tensor([left, top, left, top])
                box_labels[i, j] = label
                placed.append((label, (row, col)))
            for j in range(self.clutter):  # pieces of digits in the empty cells: ink that is no object
                if counts[i] + j >= self.cells**2:
                    break
                row, col = divmod(int(cells[counts[i] + j]), self.cells)
                piece = digits[picks[j % k]][: size // 2, : size // 2]
                images[i, 0, row * cell : row * cell + size // 2, col * cell : col * cell + size // 2] = piece
            labels_, cells_ = zip(*placed)
            captions[i] = encode_caption(caption_words(list(labels_), list(cells_)), self.caption_length)
        if self.noise:
            images = (images + self.noise * torch.randn(images.shape, generator=g)).clamp(0, 1)
        targets = {"mask": masks, "boxes": boxes, "labels": box_labels, "caption": captions}
        return TensorSplit(images, targets)
