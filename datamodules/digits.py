"""scikit-learn's bundled 8x8 handwritten digits: the offline default of the zoo."""

from typing import Annotated

import torch

from datamodules.base import (
    BatchSize,
    HeldOut,
    InMemoryDataModule,
    Scaling,
    check_fractions,
    random_crop_flip,
    splits_from_index,
    stratified_split,
)
from datamodules.description import DataDescription
from zoo.errors import UserError
from zoo.ranges import NON_EMPTY, NonNegativeCount, Range, Seed

LEVELS = 17  # pixel values 0..16


class DigitsDataModule(InMemoryDataModule):
    """1797 grey 8x8 digits in 10 classes, stratified train/val/test split.

    scaling=standard: one mean and scale from the training split (classifiers); scaling=unit: the
    intensities k/16 in [0, 1] (generative models, which need to know the 17 levels). `classes`
    keeps only some digits, e.g. [0,1,2,3,4,5,6,7,8] to hold 9 out as an outlier class.
    `train_fraction` keeps that share of the training split (stratified, from `seed`): a learning curve
    over the amount of data. `permute_pixels` scrambles every image by one fixed permutation of its 64
    pixels (from `seed`, the same in every split): the images keep their values but lose their layout.
    """

    name, kind = "digits", "images"

    def __init__(
        self,
        batch_size: BatchSize = 64,
        val_fraction: HeldOut = 0.1,
        test_fraction: HeldOut = 0.2,
        augment: bool = False,
        scaling: Scaling = "standard",
        classes: Annotated[list[int], Range(0, 9), NON_EMPTY] | None = None,
        train_fraction: Annotated[float, Range(0, 1, low_open=True)] = 1.0,
        permute_pixels: bool = False,
        seed: Seed = 0,
        num_workers: NonNegativeCount = 0,
        pin_memory: bool = False,
    ):
        super().__init__(batch_size, seed, num_workers, pin_memory)
        check_fractions(val_fraction, test_fraction)
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.augment, self.scaling = augment, scaling
        self.classes = None if classes is None else sorted(set(classes))
        self.train_fraction, self.permute_pixels = train_fraction, permute_pixels

    @property
    def description(self) -> DataDescription:
        return DataDescription(
            "images", input_shape=[1, 8, 8], num_classes=10, levels=LEVELS, scaling=self.scaling,
            labels_present=self.classes,
        )  # fmt: skip

    def input_statistics(self) -> dict:
        self.splits  # noqa: B018 - set by load()
        return getattr(self, "statistics", {})

    def load(self, classes: list[int] | None = None):
        own = classes is None
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / (LEVELS - 1)
        y = torch.tensor(digits.target, dtype=torch.long)
        classes = self.classes if classes is None else classes
        if classes is not None:
            keep = torch.isin(y, torch.tensor(classes))
            x, y = x[keep], y[keep]
        train, val, test = stratified_split(y, self.val_fraction, self.test_fraction, self.seed)
        if self.train_fraction < 1:
            train = self.subsample(train, y)
        if self.permute_pixels:
            order = torch.randperm(x[0].numel(), generator=torch.Generator().manual_seed(self.seed))
            x = x.flatten(1)[:, order].view_as(x)
        if self.scaling == "standard":
            # One mean and one scale (not per pixel), so images stay images for the CNNs.
            mean, std = x[train].mean(), x[train].std()
            x = (x - mean) / std
            if own:
                self.statistics = {"mean": [mean.item()], "std": [std.item()]}
        return splits_from_index(x, y, train, val, test)

    def subsample(self, train: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        from sklearn.model_selection import train_test_split

        keep, classes = round(self.train_fraction * len(train)), len(y[train].unique())
        if keep < classes:
            raise UserError(
                f"data.train_fraction={self.train_fraction} keeps {keep} training images, fewer than the {classes} "
                f"classes; use at least {classes / len(train):.3f}"
            )
        kept, _ = train_test_split(train.numpy(), train_size=keep, stratify=y[train].numpy(), random_state=self.seed)
        return torch.as_tensor(kept)

    def held_out(self) -> torch.Tensor:
        """Every image of the digits left out by `classes` (the held-out-class outliers): the model saw none."""
        if self.classes is None:
            raise UserError(
                "the held-out-class outlier set needs a model trained with data.classes leaving some "
                "digits out, e.g. data.classes=[0,1,2,3,4,5,6,7,8]"
            )
        others = [c for c in range(10) if c not in self.classes]
        return torch.cat([split.x for split in self.load(classes=others).values()])

    def transform(self, x, train: bool):
        # Shift training digits by up to one pixel: the same digit, drawn a little off-centre.
        return random_crop_flip(x, pad=1) if self.augment and train else x
