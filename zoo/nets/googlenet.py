"""GoogLeNet (slide "ImageNet Challenge": 2014 GoogLeNet, "Inception modules, 22 layers, 5 million parameters").

Szegedy et al. 2015, "Going deeper with convolutions", figure 2(b) and table 1. An Inception module runs four
branches side by side on the same input and stacks their maps: a 1x1 convolution; a 1x1 reduction then a
3x3; a 1x1 reduction then a 5x5; a 3x3 max pool then a 1x1 projection. The 1x1 reductions keep the
parameters low. Nine modules (3a-b, 4a-e, 5a-b) between a convolutional stem and a global average pool: 22
layers with parameters on the longest path. The two auxiliary classifiers of training are left out (the
paper discards them at inference; table 1 does not count them). Every convolution is followed by ReLU;
`batch_norm` puts a batch norm between them (Inception v2's change, torchvision's GoogLeNet; not in table 1).

On small images the stem is one 3x3 stride-1 convolution (then the paper's 1x1 and 3x3) and the pools
halve the map while it is at least 2 wide; `width` scales every convolution's channels.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from zoo.nets import parts
from zoo.nets.alexnet import Width, lrn
from zoo.ranges import Fraction

# table 1: name -> (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj); "M" a 3x3 stride-2 max pool
MODULES = [
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    "M",
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    "M",
    ("5a", (256, 160, 320, 32, 128, 128)),
    ("5b", (384, 192, 384, 48, 128, 128)),
]


def unit(c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0, batch_norm: bool = False) -> list:
    """conv -> [batch norm] -> ReLU."""
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=not batch_norm)]
    return layers + ([nn.BatchNorm2d(c_out)] if batch_norm else []) + [nn.ReLU(inplace=True)]


class Inception(nn.Module):
    """Four branches on one input, concatenated along the channels (figure 2(b))."""

    def __init__(self, c_in: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, proj: int, batch_norm: bool):
        super().__init__()
        conv = functools.partial(unit, batch_norm=batch_norm)
        self.branch1 = nn.Sequential(*conv(c_in, c1, 1))
        self.branch3 = nn.Sequential(*conv(c_in, c3r, 1), *conv(c3r, c3, 3, padding=1))
        self.branch5 = nn.Sequential(*conv(c_in, c5r, 1), *conv(c5r, c5, 5, padding=2))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, 1, padding=1), *conv(c_in, proj, 1))
        self.out_channels = c1 + c3 + c5 + proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)], 1)


class GoogLeNet(nn.Module):
    """A stem, nine Inception modules, global average pooling, dropout and one linear layer."""

    data_kinds = ("images",)  # what zoo.catalog lists this net with

    def __init__(
        self,
        input_shape,
        num_classes: int,
        width: Width = 1.0,
        dropout: Fraction = 0.4,
        batch_norm: bool = False,
        stem: parts.Stem = "auto",
    ):
        super().__init__()
        conv = functools.partial(unit, batch_norm=batch_norm)
        paper = parts.paper_stem("googlenet", input_shape, stem, smallest=32)
        c64, c192 = parts.scaled(64, width), parts.scaled(192, width)
        side = min(input_shape[1:])
        if paper:  # table 1: conv 7x7/2, max pool, (LRN), conv 1x1 and 3x3, (LRN), max pool
            pool = nn.MaxPool2d(3, 2, ceil_mode=True)
            layers = [*conv(input_shape[0], c64, 7, 2, 3), pool, lrn(), *conv(c64, c64, 1)]
            layers += [*conv(c64, c192, 3, padding=1), lrn(), pool]
        else:
            layers = [*conv(input_shape[0], c64, 3, padding=1), *conv(c64, c64, 1), *conv(c64, c192, 3, padding=1)]
            side = parts.halve_if_room(side, layers)
        c_in = c192
        for item in MODULES:
            if item == "M":
                if paper:
                    layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
                else:
                    side = parts.halve_if_room(side, layers)
                continue
            module = Inception(c_in, *(parts.scaled(c, width) for c in item[1]), batch_norm=batch_norm)
            layers.append(module)
            c_in = module.out_channels
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def googlenet(**options) -> GoogLeNet:
    """Table 1's network at ImageNet size (without the auxiliary classifiers)."""
    return GoogLeNet(**{"input_shape": (3, 224, 224), "num_classes": 1000} | options)
