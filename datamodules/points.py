"""Generated 2-D point sets: the lecture's decision-boundary and density pictures, offline."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch

from datamodules.base import (
    BatchSize,
    HeldOut,
    InMemoryDataModule,
    check_fractions,
    splits_from_index,
    stratified_split,
)
from datamodules.description import DataDescription
from zoo.ranges import NonNegative, NonNegativeCount, Range, Seed

POINT_SETS_CLASSES = {"moons": 2, "circles": 2, "spirals": 2, "ring": 8, "grid": 25}
PointSet = Literal["moons", "circles", "spirals", "ring", "grid"]


def mode_centres(kind: str) -> torch.Tensor | None:
    """The Gaussians' centres of the ring and grid sets (None for the other sets)."""
    if kind == "ring":  # 8 Gaussians on a circle of radius 2
        angles = torch.arange(8) * 2 * math.pi / 8
        return 2 * torch.stack([torch.cos(angles), torch.sin(angles)], 1)
    if kind == "grid":  # 25 Gaussians on a 5x5 grid with spacing 1
        ticks = torch.arange(-2, 3, dtype=torch.float32)
        return torch.cartesian_prod(ticks, ticks)
    return None


def make_points(kind: PointSet, n: int, noise: float, seed: int):
    """Return (x, y): n points in the plane and a class (or mode) label for each."""
    g = torch.Generator().manual_seed(seed)
    if kind in ("moons", "circles"):
        from sklearn import datasets

        maker = datasets.make_moons if kind == "moons" else datasets.make_circles
        extra = {} if kind == "moons" else {"factor": 0.5}
        x, y = maker(n_samples=n, noise=noise, random_state=seed, **extra)
        return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long)
    if kind == "spirals":
        # Two arms, r grows with the angle; arm 1 is arm 0 turned by pi.
        y = torch.arange(n) % 2
        t = torch.sqrt(torch.rand(n, generator=g)) * 3 * math.pi
        angle = t + math.pi * y
        r = t / (3 * math.pi) * 2
        x = torch.stack([r * torch.cos(angle), r * torch.sin(angle)], 1)
        return x + noise * 0.3 * torch.randn(n, 2, generator=g), y
    centres = mode_centres(kind)  # ring or grid
    y = torch.randint(len(centres), (n,), generator=g)
    return centres[y] + noise * torch.randn(n, 2, generator=g), y


class PointsDataModule(InMemoryDataModule):
    """Points in R^2 with labels; the same generator (and seed) makes every split."""

    name = "points"
    kind = "points"

    def __init__(
        self,
        kind: PointSet = "moons",
        n_samples: Annotated[int, Range(20, 10**7)] = 3000,
        noise: NonNegative = 0.2,
        batch_size: BatchSize = 128,
        val_fraction: HeldOut = 0.1,
        test_fraction: HeldOut = 0.2,
        seed: Seed = 0,
        num_workers: NonNegativeCount = 0,
        pin_memory: bool = False,
    ):
        super().__init__(batch_size, seed, num_workers, pin_memory)
        check_fractions(val_fraction, test_fraction)
        self.point_set, self.n_samples, self.noise = kind, n_samples, noise
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    @property
    def description(self) -> DataDescription:
        centres = mode_centres(self.point_set)  # what the GAN metrics count samples against
        return DataDescription(
            "points",
            input_shape=[2],
            num_classes=POINT_SETS_CLASSES[self.point_set],
            modes=None if centres is None else centres.tolist(),
            mode_std=None if centres is None else self.noise,
        )

    def load(self):
        x, y = make_points(self.point_set, self.n_samples, self.noise, self.seed)
        train, val, test = stratified_split(y, self.val_fraction, self.test_fraction, self.seed)
        return splits_from_index(x, y, train, val, test)
