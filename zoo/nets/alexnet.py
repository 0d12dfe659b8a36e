"""AlexNet and ZFNet (slide "ImageNet Challenge": 2012 AlexNet, "8 layers, 61 million parameters";
2013 ZFNet, "8 layers, more filters").

AlexNet (Krizhevsky, Sutskever & Hinton 2012, figure 2): five convolutions (11x11 stride 4, 5x5, then three
3x3) with ReLU, local response normalisation after the first two and overlapping 3x3 stride-2 max pools,
then three fully connected layers with dropout. The paper split the net over two GPUs: conv2, conv4 and
conv5 see only the half of the channels on their own GPU (groups 2, its default); `groups=1` is one tower.

ZFNet (Zeiler & Fergus 2014, figure 3) is AlexNet as its visualisations corrected it: a 7x7 stride-2 first
layer instead of 11x11 stride 4 (the first filters had dead and aliased ones), a stride-2 second layer, and
dense connections (one GPU). The "more filters" of the slide is the paper's larger model (table 2, layers
3, 4, 5 with 512, 1024, 512 maps): `channels=[96, 256, 512, 1024, 512]`.

On small images (digits, CIFAR) the first layer is a 3x3 stride-1 convolution and the pools halve the map
while it is at least 2 wide (zoo.nets.parts); `width` scales every conv layer's channels.
"""

from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from zoo.nets import parts
from zoo.ranges import Count, Fraction, Range, Rule

FiveChannels = Annotated[
    list[int],
    Rule(
        lambda v: isinstance(v, (list, tuple)) and len(v) == 5 and all(isinstance(c, int) and c >= 1 for c in v),
        "five positive channel counts, one per conv layer, e.g. [96, 256, 384, 384, 256]",
    ),
]
Width = Annotated[float, Range(0, 16, low_open=True, note="a multiplier of the paper's channels")]


def lrn() -> nn.LocalResponseNorm:
    """Krizhevsky et al.'s local response normalisation: n=5, alpha=1e-4, beta=0.75, k=2."""
    return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)


def conv(c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0, groups: int = 1) -> list:
    return [nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=groups), nn.ReLU(inplace=True)]


class AlexNet(nn.Module):
    """Five conv layers and three fully connected ones: 8 weight layers."""

    data_kinds = ("images",)  # what zoo.catalog lists this net with
    net_name, paper_groups = "alexnet", 2  # groups=None: the paper's

    def __init__(
        self,
        input_shape,
        num_classes: int,
        channels: FiveChannels = (96, 256, 384, 384, 256),
        groups: Annotated[int, Range(1, 2, note="2: AlexNet's two GPUs")] | None = None,
        width: Width = 1.0,
        hidden: Count = 4096,
        dropout: Fraction = 0.5,
        stem: parts.Stem = "auto",
    ):
        super().__init__()
        paper = parts.paper_stem(self.net_name, input_shape, stem, smallest=63)
        groups = self.paper_groups if groups is None else groups
        c = [parts.scaled(ch, width, groups) for ch in channels]
        if paper:
            layers = self.paper_layers(input_shape[0], c, groups)
        else:
            layers, side = conv(input_shape[0], c[0], 3, 1, 1), min(input_shape[1:])
            side = parts.halve_if_room(side, layers)
            layers += conv(c[0], c[1], 3, 1, 1, groups)
            side = parts.halve_if_room(side, layers)
            layers += conv(c[1], c[2], 3, 1, 1) + conv(c[2], c[3], 3, 1, 1, groups) + conv(c[3], c[4], 3, 1, 1, groups)
            parts.halve_if_room(side, layers)
        self.features = nn.Sequential(*layers)
        side = 6 if paper else 1  # the paper's 6x6 maps into fc6; a small net's global average
        self.avgpool = nn.AdaptiveAvgPool2d(side)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c[4] * side * side, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    @staticmethod
    def paper_layers(c_in: int, c: list[int], groups: int) -> list:
        """Krizhevsky et al.'s figure 2 (224x224 input, padded to the 55x55 first maps of the 227 it implies)."""
        pool = nn.MaxPool2d(3, 2)
        return [
            *conv(c_in, c[0], 11, 4, 2), lrn(), pool,
            *conv(c[0], c[1], 5, 1, 2, groups), lrn(), pool,
            *conv(c[1], c[2], 3, 1, 1), *conv(c[2], c[3], 3, 1, 1, groups), *conv(c[3], c[4], 3, 1, 1, groups), pool,
        ]  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)))


class ZFNet(AlexNet):
    """AlexNet with a 7x7 stride-2 first layer, a stride-2 second layer and dense connections."""

    net_name, paper_groups = "zfnet", 1

    @staticmethod
    def paper_layers(c_in: int, c: list[int], groups: int) -> list:
        """Zeiler & Fergus' figure 3: 224 -> 110 -> 55 -> 26 -> 13 -> 6 (pools rounding up, as its sizes do)."""
        pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        return [
            *conv(c_in, c[0], 7, 2, 1), pool, lrn(),
            *conv(c[0], c[1], 5, 2, 0, groups), pool, lrn(),
            *conv(c[1], c[2], 3, 1, 1), *conv(c[2], c[3], 3, 1, 1, groups), *conv(c[3], c[4], 3, 1, 1, groups),
            nn.MaxPool2d(3, 2),
        ]  # fmt: skip


def alexnet(**options) -> AlexNet:
    """The paper's AlexNet at ImageNet size: 60,965,224 parameters (1000 classes, two GPUs)."""
    return AlexNet(**{"input_shape": (3, 224, 224), "num_classes": 1000} | options)


def zfnet(**options) -> ZFNet:
    """ZFNet at ImageNet size (one GPU, AlexNet's channels)."""
    return ZFNet(**{"input_shape": (3, 224, 224), "num_classes": 1000} | options)
