"""Residual networks and their plain twins (slides "The problem when go deeper", "ResNet vs ODENet").

ResNet: h_{t+1} = h_t + f(h_t, theta_t), with f two 3x3 conv layers ("skip 2 layers").
This is the CIFAR family of He et al. 2016 (section 4.2): 6n+2 layers (20, 32, 44, 56, 110), three
stages of n basic blocks with 16, 32, 64 channels, and option A shortcuts (identity; when the shape
changes, subsample by 2 and pad the new channels with zeros: no parameters). `shortcuts=False`
gives the plain net of the same depth for the degradation experiment. `zero_init_residual` starts
every residual branch f at zero (the scale of its last batch norm; Goyal et al. 2017, torchvision's
option of the same name), so a deep net starts as the identity and the depth adds no variance at
the start.

The ImageNet family of the same paper (table 1: 50, 101, 152 layers) stacks bottleneck blocks instead
(1x1 reduce, 3x3, 1x1 expand by 4, option B projection shortcuts when the shape changes): `resnet152()`,
the slide's "2015: ResNet, 152 layers", built to be counted (the lecture's section imagenet).
"""

from __future__ import annotations

from typing import Annotated

import torch
import torch.nn.functional as F
from torch import nn

from zoo.errors import UserError
from zoo.nets import parts
from zoo.ranges import Count, Range, Rule


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the input (option A shortcut) when `shortcut`, then ReLU.

    `layers=1` keeps one conv3x3-BN inside the shortcut: the slide's "skipping a single layer"."""

    def __init__(self, c_in: int, c_out: int, stride: int, shortcut: bool = True, layers: int = 2):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False) if layers == 2 else None
        self.bn2 = nn.BatchNorm2d(c_out) if layers == 2 else None
        self.shortcut, self.stride, self.pad = shortcut, stride, c_out - c_in

    @property
    def last_norm(self) -> nn.BatchNorm2d:
        """The batch norm that ends the residual branch f (its scale at zero makes f = 0)."""
        return self.bn1 if self.bn2 is None else self.bn2

    def skip(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.pad:
            x = F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn1(self.conv1(x))
        if self.conv2 is not None:
            out = self.bn2(self.conv2(F.relu(out)))
        if self.shortcut:
            out = out + self.skip(x)  # h_{t+1} = h_t + f(h_t)
        return F.relu(out)


class ResNet(nn.Module):
    """CIFAR-style ResNet of `depth` = 6n+2 layers; a 3x3 stem adapts to 1 or 3 input channels."""

    data_kinds = ("images",)  # what zoo.catalog lists this net with

    def __init__(
        self,
        input_shape,
        num_classes: int,
        depth: Annotated[
            int, Rule(lambda d: isinstance(d, int) and d >= 8 and (d - 2) % 6 == 0, "6n+2 (20, 32, 44, 56, 110, ...)")
        ] = 20,  # fmt: skip
        width: Count = 16,
        shortcuts: bool = True,
        zero_init_residual: bool = False,
        block_layers: Annotated[int, Range(1, 2, note="convolutions inside each shortcut")] = 2,
    ):
        super().__init__()
        parts.require_image("resnet" if shortcuts else "plainnet", input_shape)
        if zero_init_residual and not shortcuts:
            raise UserError(
                "model.zero_init_residual=true needs shortcuts: a plain net whose blocks start at zero passes no signal"
            )
        n = (depth - 2) // 6 * (2 // block_layers)  # blocks per stage: the same depth in 1- or 2-layer blocks
        self.stem = nn.Sequential(
            nn.Conv2d(input_shape[0], width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()
        )
        blocks, c_in = [], width
        for stage, c_out in enumerate((width, 2 * width, 4 * width)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(c_in, c_out, stride, shortcut=shortcuts, layers=block_layers))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_residual:
            for block in blocks:
                nn.init.zeros_(block.last_norm.weight)  # f(h) = 0 at the start: h_{t+1} = h_t

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def resnet20(**kwargs) -> ResNet:
    """He et al. 2016: 0.27M parameters, 8.75% CIFAR-10 test error."""
    return ResNet(depth=20, **{"input_shape": (3, 32, 32), "num_classes": 10} | kwargs)


def resnet56(**kwargs) -> ResNet:
    """He et al. 2016: 0.85M parameters, 6.97% CIFAR-10 test error."""
    return ResNet(depth=56, **{"input_shape": (3, 32, 32), "num_classes": 10} | kwargs)


class Bottleneck(nn.Module):
    """1x1 (reduce) - 3x3 - 1x1 (expand by 4), each with batch norm, plus the input or its 1x1 projection."""

    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int):
        super().__init__()
        c_out = planes * self.expansion
        self.branch = nn.Sequential(
            nn.Conv2d(c_in, planes, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(inplace=True),
            nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(inplace=True),
            nn.Conv2d(planes, c_out, 1, bias=False), nn.BatchNorm2d(c_out),
        )  # fmt: skip
        self.project = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
            if stride > 1 or c_in != c_out
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.branch(x) + self.project(x))  # h_{t+1} = h_t + f(h_t)


class ImageNetResNet(nn.Module):
    """He et al. 2016, table 1: a 7x7/2 stem and max pool, four stages of bottleneck blocks, average pool, fc."""

    def __init__(self, blocks: tuple[int, ...] = (3, 8, 36, 3), num_classes: int = 1000, in_channels: int = 3):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )  # fmt: skip
        stages, c_in = [], 64
        for stage, (count, planes) in enumerate(zip(blocks, (64, 128, 256, 512))):
            for i in range(count):
                stages.append(Bottleneck(c_in, planes, stride=2 if stage > 0 and i == 0 else 1))
                c_in = planes * Bottleneck.expansion
        self.blocks = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def resnet152(**options) -> ImageNetResNet:
    """He et al. 2016: 152 layers (3 + 8 + 36 + 3 bottleneck blocks of 3, a stem and the fc), 60.2M parameters."""
    return ImageNetResNet(blocks=(3, 8, 36, 3), **options)
