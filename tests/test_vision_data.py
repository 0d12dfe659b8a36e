"""MNIST, Fashion-MNIST and CIFAR-10 loaders on tiny files written in the original formats."""

import pytest
import torch

from datamodules.vision import CIFAR10DataModule, FashionMNISTDataModule, MNISTDataModule
from tests.conftest import write_cifar, write_idx
from zoo.errors import UserError


@pytest.mark.parametrize("cls, folder", [(MNISTDataModule, "MNIST"), (FashionMNISTDataModule, "FashionMNIST")])
def test_idx_files_are_read(tmp_path, cls, folder):
    write_idx(tmp_path / folder / "raw", n_train=120, n_test=40)
    dm = cls(root=tmp_path, download=False, val_size=20, batch_size=16)
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 100, "val": 20, "test": 40}
    assert dm.splits["train"].x.dtype == torch.uint8 and dm.description.as_dict()["input_shape"] == [1, 28, 28]
    x, y = dm.transform(dm.splits["train"].x[:16], train=False), dm.splits["train"].y[:16]
    assert x.dtype == torch.float32 and x.shape == (16, 1, 28, 28) and y.max() < 10


def test_cifar_pickled_batches_are_read(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-py", per_batch=20)
    dm = CIFAR10DataModule(root=tmp_path, download=False, val_size=10, augment=True)
    assert {k: len(v) for k, v in dm.splits.items()} == {"train": 90, "val": 10, "test": 20}
    assert dm.description.as_dict() == {
        "kind": "images",
        "input_shape": [3, 32, 32],
        "num_classes": 10,
        "levels": 256,
        "scaling": "standard",
    }
    unit = CIFAR10DataModule(root=tmp_path, download=False, val_size=10, scaling="unit")
    pixels = unit.transform(unit.splits["test"].x, train=False)
    assert torch.equal(pixels * 255, unit.splits["test"].x.float())  # generative models see k / 255
    augmented = dm.transform(dm.splits["train"].x[:8], train=True)
    assert augmented.shape == (8, 3, 32, 32)


@pytest.mark.parametrize(
    "cls, expected",
    [
        (MNISTDataModule, "MNIST is not in {root}/MNIST/raw (expected train-images-idx3-ubyte"),
        (CIFAR10DataModule, "CIFAR-10 is not in {root}/cifar-10-batches-py (expected data_batch_1"),
    ],
)
def test_missing_data_offline_is_one_sentence(tmp_path, cls, expected):
    with pytest.raises(UserError) as err:
        cls(root=tmp_path, download=False).setup()
    assert expected.format(root=tmp_path) in str(err.value)
    assert "data.download=true" in str(err.value)
