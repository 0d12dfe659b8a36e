"""A small U-Net (slide "Beyond Classification": semantic segmentation labels every pixel).

Ronneberger et al. 2015: an encoder halves the feature maps and widens the channels, a decoder
upsamples back and joins each level with the encoder's map of the same size (skip connections), so
the class of a pixel sees both the large context and the fine position. The output holds one score
per class for every pixel.

The net works at half the image's resolution without losing a pixel: the input's 2x2 blocks become
4 channels (space to depth) and the scores of each block's 4 pixels come out of 4 x classes channels
(depth to space, the sub-pixel convolution of Shi et al. 2016). Wide feature maps at full size would
cost most of the time on a CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo.nets import parts
from zoo.ranges import Channels

BLOCK = 2  # pixels per side folded into channels


class UNet(nn.Module):
    """Levels of `channels`; maps (N, C, H, W) to per-pixel scores (N, num_classes + 1, H, W) (class 0:
    background).
    """

    def __init__(self, input_shape, num_classes: int, channels: Channels = (16, 32, 64)):
        super().__init__()
        parts.require_image("segmenter", input_shape)
        levels = len(channels)
        parts.check_divisible("segmenter", input_shape, BLOCK * 2 ** (levels - 1), f"halves the image {levels} times")
        self.down = nn.ModuleList()
        c_in = input_shape[0] * BLOCK**2
        for c in channels:
            self.down.append(parts.double_conv(c_in, c))
            c_in = c
        pairs = zip(reversed(channels[1:]), reversed(channels[:-1]))  # (deeper, shallower) level
        self.merge = nn.ModuleList(parts.double_conv(deep + shallow, shallow) for deep, shallow in pairs)
        # the finest skip is the input itself: whether a pixel is ink is read off its own value
        self.head = nn.Conv2d(channels[0] + input_shape[0] * BLOCK**2, (num_classes + 1) * BLOCK**2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pixels = F.pixel_unshuffle(x, BLOCK)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for merge, skip in zip(self.merge, reversed(skips[:-1])):
            x = merge(torch.cat([skip, F.interpolate(x, scale_factor=2.0, mode="nearest")], 1))
        return F.pixel_shuffle(self.head(torch.cat([x, pixels], 1)), BLOCK)
