"""The measuring tools of the new lecture sections, each against a case whose answer is known: HOG on edges,
the slide's transforms, the loss-surface curvature on a bowl and a saddle, filter-normalised directions,
and the digits options that learning curves and the scrambled-pixel experiment use."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from datamodules.digits import DigitsDataModule
from sections.features import hog
from sections.future import filter_normalised_direction, non_convex_share
from sections.transforms import LEVELS, TRANSFORMS, occluded, shifted
from zoo.errors import UserError


def test_hog_puts_an_edges_energy_in_its_orientation_bin():
    vertical = np.zeros((1, 8, 8))
    vertical[:, :, 4:] = 1  # the gradient points along x: orientation 0 degrees, bin 0
    horizontal = vertical.transpose(0, 2, 1)  # gradient along y: 90 degrees, bin 4 of 9
    for image, bin_ in ((vertical, 0), (horizontal, 4)):
        features = hog(image).reshape(-1, 9)
        assert features.sum(0).argmax() == bin_ and features.sum(0)[bin_] > 0.9 * features.sum()


def test_hog_does_not_care_how_bright_or_contrasty_the_image_is():
    image = np.random.default_rng(0).random((3, 8, 8))
    assert np.allclose(hog(image), hog(3 * image + 1), atol=1e-6)


def digit_like(n: int = 6) -> torch.Tensor:
    x = torch.zeros(n, 1, 8, 8)
    x[:, :, 2:6, 3:5] = 1
    return x


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_every_transform_keeps_the_shape_is_seeded_and_changes_the_image(name):
    x = digit_like()
    x[:, :, 3, 3] = 0.5  # a midtone, so that gamma has something to change
    outs = [TRANSFORMS[name](x, LEVELS, 0.0, 1.0, torch.Generator().manual_seed(7)) for _ in range(2)]
    assert outs[0].shape == x.shape and torch.equal(outs[0], outs[1]) and not torch.allclose(outs[0], x)


def test_a_shift_moves_every_pixel_by_whole_pixels():
    x = digit_like(32)
    moved = shifted(x, 1, 0.0, 1.0, torch.Generator().manual_seed(0))
    assert torch.allclose(moved.sum((1, 2, 3)), x.sum((1, 2, 3)), atol=1e-5)  # nothing left the frame
    assert torch.allclose(moved, moved.round(), atol=1e-5)  # no blur: bilinear sampling at whole pixels


def test_occlusion_sets_a_square_of_the_given_side_to_the_background():
    x = torch.ones(4, 1, 8, 8)
    out = occluded(x, 3, 0.0, 1.0, torch.Generator().manual_seed(0))
    assert ((out == 0).sum((1, 2, 3)) == 16).all()


def surface(f) -> torch.Tensor:
    a, b = torch.meshgrid(torch.linspace(-1, 1, 9), torch.linspace(-1, 1, 9), indexing="ij")
    return f(a, b)


def test_a_bowl_is_convex_and_a_saddle_is_not():
    assert non_convex_share(surface(lambda a, b: a**2 + b**2)) == 0
    assert non_convex_share(surface(lambda a, b: a**2 - b**2)) == 1
    assert non_convex_share(surface(lambda a, b: a**2 + 0.01 * -(b**2))) == 0  # slight: under the tenth


def test_a_filter_normalised_direction_has_each_filters_norm():
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(36, 2)
    )
    conv, bn, _, linear = net
    d_conv, d_conv_bias, d_bn_w, d_bn_b, d_lin, d_lin_bias = filter_normalised_direction(net, torch.Generator())
    assert torch.allclose(d_conv.flatten(1).norm(dim=1), conv.weight.flatten(1).norm(dim=1))
    assert torch.allclose(d_lin.norm(dim=1), linear.weight.norm(dim=1))
    assert all(not d.any() for d in (d_conv_bias, d_bn_w, d_bn_b, d_lin_bias))


def test_a_share_of_the_training_split_is_stratified_and_nothing_else_changes():
    full, part = DigitsDataModule(seed=3).load(), DigitsDataModule(seed=3, train_fraction=0.1).load()
    assert len(part["train"].y) == round(0.1 * len(full["train"].y))
    assert torch.bincount(part["train"].y).min() >= 12  # every class about a tenth of its 140-odd
    assert torch.equal(part["test"].y, full["test"].y)
    with pytest.raises(UserError, match="data.train_fraction=0.001 keeps 1 training images, fewer than the 10"):
        DigitsDataModule(train_fraction=0.001).load()


def test_scrambled_pixels_are_one_permutation_of_each_image():
    plain, scrambled = DigitsDataModule(seed=5).load(), DigitsDataModule(seed=5, permute_pixels=True).load()
    a, b = plain["train"].x.flatten(1), scrambled["train"].x.flatten(1)
    assert torch.equal(a.sort(1).values, b.sort(1).values) and not torch.equal(a, b)
    order = [int((a[0] == v).nonzero()[0]) if (a[0] == v).sum() == 1 else None for v in b[0]]
    unique = [(i, o) for i, o in enumerate(order) if o is not None]  # pixels whose value is unique in image 0
    test_a, test_b = plain["test"].x.flatten(1), scrambled["test"].x.flatten(1)
    assert all(torch.equal(test_b[:, i], test_a[:, o]) for i, o in unique)  # the same order in every split
