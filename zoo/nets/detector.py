"""A small single-stage object detector (slide "Beyond Classification": find and name each object).

Objects as points (Zhou et al. 2019, "CenterNet"): a conv net maps the image, at a quarter of its
resolution, to one heat map per class whose peaks are the objects' centres, plus, at every cell, the
object's width and height and the centre's offset within the cell. A peak of class c at cell (i, j)
with size (w, h) and offset (dx, dy) is the box centred at ((j + dx) * 4, (i + dy) * 4) of that size.
Each cell starts from the image's 4x4 block of pixels folded into channels (space to depth), so no
wide feature map is ever computed at full size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo.nets import parts
from zoo.ranges import Channels

PRIOR = 0.1  # the heat maps start at p = 0.1 everywhere (Lin et al. 2017's initialisation for rare positives)


class CentreNet(nn.Module):
    """Maps (N, C, H, W) images to `heat` (N, classes, H/4, W/4) logits, `size` and `offset` (N, 2, H/4, W/4);
    size is in input pixels, offset in cells.
    """

    stride = 4

    def __init__(self, input_shape, num_classes: int, channels: Channels = (32, 64)):
        super().__init__()
        parts.require_image("detector", input_shape)
        parts.check_divisible(
            "detector", input_shape, self.stride, f"reads the image in {self.stride}x{self.stride} cells"
        )
        layers, c_in = [], input_shape[0] * self.stride**2
        for c in channels:
            layers.append(parts.double_conv(c_in, c))
            c_in = c
        self.features = nn.Sequential(*layers, nn.Conv2d(c_in, c_in, 3, padding=1), nn.ReLU())
        self.heat, self.size, self.offset = (nn.Conv2d(c_in, k, 1) for k in (num_classes, 2, 2))
        nn.init.constant_(self.heat.bias, torch.logit(torch.tensor(PRIOR)).item())

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.features(F.pixel_unshuffle(x, self.stride))
        return {"heat": self.heat(f), "size": self.size(f), "offset": self.offset(f)}
