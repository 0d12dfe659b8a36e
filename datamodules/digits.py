"""scikit-learn's bundled 8x8 handwritten digits: the offline default of the zoo."""
import torch

from datamodules.base import InMemoryDataModule, random_crop_flip, splits_from_index, stratified_split


class DigitsDataModule(InMemoryDataModule):
    """1797 grey 8x8 digits in 10 classes, stratified train/val/test split, standardised with train statistics."""

    name = "digits"

    def __init__(self, batch_size=64, val_fraction=0.1, test_fraction=0.2, augment=False, seed=0, num_workers=0,
                 pin_memory=False):
        super().__init__(batch_size, seed, num_workers, pin_memory)
        self.val_fraction, self.test_fraction, self.augment = val_fraction, test_fraction, augment

    @property
    def info(self) -> dict:
        return {"input_shape": [1, 8, 8], "num_classes": 10}

    def load(self):
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
        y = torch.tensor(digits.target, dtype=torch.long)
        train, val, test = stratified_split(y, self.val_fraction, self.test_fraction, self.seed)
        # One mean and one scale (not per pixel), so images stay images for the CNNs.
        mean, std = x[train].mean(), x[train].std()
        return splits_from_index((x - mean) / std, y, train, val, test)

    def transform(self, x, train: bool):
        # Shift training digits by up to one pixel: the same digit, drawn a little off-centre.
        return random_crop_flip(x, pad=1) if self.augment and train else x
