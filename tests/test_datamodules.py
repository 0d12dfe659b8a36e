"""Offline datamodules: splits, whole-batch serving, batch-size options and their errors."""

import pytest
import torch

from datamodules.base import TensorSplit, random_crop_flip
from datamodules.digits import DigitsDataModule
from datamodules.points import PointsDataModule
from zoo.errors import UserError


def test_digits_split_is_stratified_disjoint_and_seeded():
    dm = DigitsDataModule(seed=0)
    sizes = {k: len(v) for k, v in dm.splits.items()}
    assert sum(sizes.values()) == 1797 and sizes["test"] == 360 and sizes["val"] == 180
    for split in dm.splits.values():  # every class in every split, in proportion
        counts = torch.bincount(split.y, minlength=10).float() / len(split)
        assert counts.min() > 0.07 and counts.max() < 0.13
    again = DigitsDataModule(seed=0).splits["test"]
    assert torch.equal(again.x, dm.splits["test"].x)
    assert not torch.equal(DigitsDataModule(seed=1).splits["test"].x, dm.splits["test"].x)
    assert dm.description.as_dict() == {
        "kind": "images",
        "input_shape": [1, 8, 8],
        "num_classes": 10,
        "levels": 17,
        "scaling": "standard",
    }
    assert dm.splits["train"].x.shape[1:] == (1, 8, 8)


def test_a_batch_is_one_indexing_operation(monkeypatch):
    calls = []
    original = TensorSplit.__getitem__
    monkeypatch.setattr(TensorSplit, "__getitem__", lambda self, i: calls.append(i) or original(self, i))
    dm = DigitsDataModule(batch_size=100)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (100, 1, 8, 8) and y.shape == (100,)
    assert calls == []  # served by __getitems__, never item by item


@pytest.mark.parametrize("batch_size, expected_batches", [("full", 1), (1, 1257), (64, 20)])
def test_full_batch_sgd_and_mini_batch_are_one_option_apart(batch_size, expected_batches):
    dm = DigitsDataModule(batch_size=batch_size)
    assert len(dm.train_dataloader()) == expected_batches


def test_bad_batch_sizes_are_sentences():
    with pytest.raises(UserError, match="larger than the training split \\(1257 examples\\)"):
        DigitsDataModule(batch_size=5000).train_dataloader()
    with pytest.raises(UserError, match="positive integer or 'full'"):
        DigitsDataModule(batch_size=0)


@pytest.mark.parametrize("kind, classes", [("moons", 2), ("circles", 2), ("spirals", 2), ("ring", 8), ("grid", 25)])
def test_point_sets(kind, classes):
    dm = PointsDataModule(kind=kind, n_samples=500, noise=0.05)
    train = dm.splits["train"]
    assert train.x.shape[1:] == (2,) and int(train.y.max()) + 1 == classes
    assert {k: dm.description.as_dict()[k] for k in ("input_shape", "num_classes")} == {
        "input_shape": [2],
        "num_classes": classes,
    }
    if kind in ("ring", "grid"):  # the mixtures say where their modes are, for the GAN metrics
        assert len(dm.description.as_dict()["modes"]) == classes and dm.description.as_dict()["mode_std"] == 0.05
        nearest = torch.cdist(train.x, torch.tensor(dm.description.as_dict()["modes"])).argmin(1)
        assert (nearest == train.y).float().mean() > 0.99


def test_ring_points_sit_on_the_circle():
    x = PointsDataModule(kind="ring", n_samples=1000, noise=0.01).splits["train"].x
    assert torch.allclose(x.norm(dim=1), torch.full((len(x),), 2.0), atol=0.05)


def test_random_crop_shifts_without_changing_content():
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 3:5, 3:5] = 1
    out = random_crop_flip(x, pad=1)
    assert out.shape == x.shape and torch.all(out.sum((1, 2, 3)) == 4)  # the blob moves, nothing is lost
    assert len({tuple(o.nonzero()[0].tolist()) for o in out}) > 1
