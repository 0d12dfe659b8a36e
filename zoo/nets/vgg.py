"""VGG (slide "ImageNet Challenge": 2014 VGG, "19 layers").

Simonyan & Zisserman 2015, table 1: stacks of 3x3 convolutions (stride 1, padding 1) with ReLU, five 2x2
max pools, then three fully connected layers with dropout. Configuration E has 16 conv layers and 3 fully
connected ones: VGG-19; D (VGG-16), B (13) and A (11) are the shallower columns of the same table.
`batch_norm` adds a batch norm after every conv (torchvision's vgg*_bn; not in the paper, which trained the
deeper columns from the shallower ones instead). On small images a pool is left out once the map is 1 wide
and the classifier reads the global average; `width` scales every conv layer's channels.
"""

from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from zoo.nets import parts
from zoo.nets.alexnet import Width
from zoo.ranges import Count, Fraction, Rule

# table 1: channels of each conv layer, "M" a 2x2 max pool
COLUMNS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
Depth = Annotated[int, Rule(lambda d: d in COLUMNS, "one of 11, 13, 16, 19 (columns A, B, D, E of table 1)")]


class VGG(nn.Module):
    """depth - 3 conv layers of 3x3 filters in five stages, then three fully connected layers."""

    data_kinds = ("images",)  # what zoo.catalog lists this net with

    def __init__(
        self,
        input_shape,
        num_classes: int,
        depth: Depth = 19,
        width: Width = 1.0,
        hidden: Count = 4096,
        dropout: Fraction = 0.5,
        batch_norm: bool = False,
    ):
        super().__init__()
        paper = parts.paper_stem("vgg", input_shape, "auto", smallest=32)
        layers, c_in, side = [], input_shape[0], min(input_shape[1:])
        for item in COLUMNS[depth]:
            if item == "M":
                side = parts.halve_if_room(side, layers)
                continue
            c_out = parts.scaled(item, width)
            layers.append(nn.Conv2d(c_in, c_out, 3, padding=1))
            layers += [nn.BatchNorm2d(c_out)] if batch_norm else []
            layers.append(nn.ReLU(inplace=True))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        side = 7 if paper else 1  # the paper's 7x7 maps into the first fully connected layer
        self.avgpool = nn.AdaptiveAvgPool2d(side)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * side * side, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)))


def vgg19(**options) -> VGG:
    """Configuration E at ImageNet size: 143,667,240 parameters."""
    return VGG(**{"input_shape": (3, 224, 224), "num_classes": 1000, "depth": 19} | options)
