"""Convolutional autoencoder (lecture overview: autoencoders; slide "Supervised vs Unsupervised Learning").

No labels: the network learns a code z = f(x) with few numbers and a decoder x̂ = g(z), trained so
that x̂ reproduces x, L = (1/n) sum_i ||x_i - g(f(x_i))||^2. With a code of 2 numbers the code is a
picture of the data (dimensionality reduction), and similar inputs land near each other.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from zoo.nets import parts
from zoo.nets.cnn import ConvBlock
from zoo.ranges import Channels, Count


class ConvAutoencoder(nn.Module):
    """encoder: conv blocks (conv, batch norm, ReLU, max pool) -> fully connected -> code;
    decoder: fully connected -> (upsample, conv) blocks back to the input's size -> sigmoid pixels in [0, 1].
    """

    def __init__(self, input_shape, channels: Channels = (32, 64), hidden: Count = 128, code_size: Count = 2):
        super().__init__()
        parts.require_image("autoencoder", input_shape)
        c, h, w = input_shape
        self.sizes = [(h, w)]  # the feature map size before each pooling, restored in reverse by the decoder
        blocks, c_in = [], c
        for c_out in channels:
            blocks.append(ConvBlock(c_in, c_out, 3, "max", batch_norm=True))
            self.sizes.append((self.sizes[-1][0] // 2, self.sizes[-1][1] // 2))
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        self.inner = (c_in, *self.sizes[-1])
        self.to_code = nn.Sequential(
            nn.Flatten(), nn.Linear(math.prod(self.inner), hidden), nn.ReLU(), nn.Linear(hidden, code_size)
        )
        self.from_code = nn.Sequential(
            nn.Linear(code_size, hidden), nn.ReLU(), nn.Linear(hidden, math.prod(self.inner)), nn.ReLU()
        )
        outs = [*reversed(channels[:-1]), c]
        self.up = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c_in_, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU())
            if i < len(outs) - 1
            else nn.Conv2d(c_in_, c_out, 3, padding=1)
            for i, (c_in_, c_out) in enumerate(zip([c_in, *outs[:-1]], outs))
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_code(self.features(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        y = self.from_code(z).view(len(z), *self.inner)
        for block, size in zip(self.up, reversed(self.sizes[:-1])):
            y = block(F.interpolate(y, size=size, mode="nearest"))
        return torch.sigmoid(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))
