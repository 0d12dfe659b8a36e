"""The ImageNet line (AlexNet, ZFNet, VGG, GoogLeNet, ResNet-152): the papers' sizes counted on the meta device
against torchvision's definitions, the depth counter on nets of known depth, the small variants on small images."""

from __future__ import annotations

import pytest
import torch
import torchvision.models as tv
from torch import nn

from zoo.errors import UserError
from zoo.nets import parts
from zoo.nets.alexnet import AlexNet, ZFNet, alexnet, zfnet
from zoo.nets.googlenet import GoogLeNet, Inception, googlenet
from zoo.nets.resnet import resnet152
from zoo.nets.vgg import VGG, vgg19


def on_meta(build, **options) -> nn.Module:
    with torch.device("meta"):
        return build(**options)


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize(
    "mine, theirs",
    [
        (lambda: alexnet(channels=[64, 192, 384, 256, 256], groups=1), tv.alexnet),  # torchvision's one tower
        (vgg19, tv.vgg19),
        (resnet152, tv.resnet152),
    ],
    ids=["alexnet-one-tower", "vgg19", "resnet152"],
)
def test_where_the_definitions_agree_the_counts_equal_torchvisions(mine, theirs):
    assert n_params(on_meta(mine)) == n_params(on_meta(theirs))


@pytest.mark.parametrize("build, layers", [(alexnet, 8), (zfnet, 8), (vgg19, 19), (googlenet, 22), (resnet152, 152)])
def test_the_papers_depths_on_the_longest_path(build, layers):
    assert parts.weight_layers_on_longest_path(on_meta(build)) == layers


def test_the_depth_counter_takes_the_longer_branch_and_counts_only_weight_layers():
    inception = Inception(8, 2, 2, 2, 2, 2, 2, batch_norm=True)  # 1x1 then 3x3 (or 5x5): 2 on the longest path
    assert parts.weight_layers_on_longest_path(inception) == 2
    chain = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.LazyLinear(3))
    assert parts.weight_layers_on_longest_path(chain) == 2


def test_alexnets_two_gpus_halve_the_weights_of_conv2_4_5():
    net = on_meta(alexnet)
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    assert [c.groups for c in convs] == [2 - (i in (0, 2)) for i in range(5)]
    assert n_params(net) == 60_965_224  # Krizhevsky et al.: "60 million parameters"


@pytest.mark.parametrize("build, side", [(alexnet, 6), (zfnet, 6), (googlenet, 7)])
def test_imagenet_maps_have_the_papers_sizes(build, side):
    net = on_meta(build)
    assert net.features(torch.empty(1, 3, 224, 224, device="meta")).shape[-1] == side


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32), (1, 28, 28)])
@pytest.mark.parametrize(
    "make",
    [
        lambda s: AlexNet(s, 10, width=0.1, hidden=32),
        lambda s: ZFNet(s, 10, width=0.1, hidden=32),
        lambda s: VGG(s, 10, depth=11, width=0.1, hidden=32, batch_norm=True),
        lambda s: GoogLeNet(s, 10, width=0.1, batch_norm=True),
    ],
    ids=["alexnet", "zfnet", "vgg", "googlenet"],
)
def test_small_variants_fit_small_images(make, shape):
    assert make(shape)(torch.randn(2, *shape)).shape == (2, 10)


def test_an_imagenet_stem_on_a_tiny_image_is_a_sentence():
    with pytest.raises(UserError, match="model.stem=imagenet for alexnet needs images of at least 63x63, got 8x8"):
        AlexNet((1, 8, 8), 10, stem="imagenet")


def test_the_width_keeps_grouped_channels_divisible():
    net = AlexNet((3, 32, 32), 10, width=0.3, hidden=16)  # 96 * 0.3 = 28.8 -> 28, 256 * 0.3 -> 76 ...
    assert all(m.out_channels % m.groups == 0 and m.in_channels % m.groups == 0 for m in net.modules()
               if isinstance(m, nn.Conv2d))  # fmt: skip


@pytest.mark.parametrize("model", ["alexnet", "zfnet", "vgg", "googlenet"])
def test_each_trains_on_digits_through_the_shared_trainer(model, compose_train, tmp_path):
    import json

    from zoo.run import train

    epochs = 4 if model == "googlenet" else 8  # GoogLeNet is the slowest per epoch and learns digits the fastest
    metrics = train(compose_train(f"model={model}", f"trainer.max_epochs={epochs}", "seed=1"))
    losses = json.loads((tmp_path / "history.json").read_text())["train/loss"]
    assert losses[-1] < 0.8 * losses[0] and metrics["test/acc"] > 0.2, (losses, metrics["test/acc"])  # chance: 0.1
