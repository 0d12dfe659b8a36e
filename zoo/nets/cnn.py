"""Convolutional networks (slides "Using Spatial Structure" to "CNNs for Classification").

1. Convolution: apply filters with learned weights to produce feature maps.
2. Non-linearity: ReLU.
3. Pooling: downsample each feature map (max pool 2x2, stride 2).
Then a fully connected head maps the pooled features to class scores.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from torch import nn

from zoo.errors import UserError
from zoo.nets import parts
from zoo.ranges import Channels, Count, Fraction, Range

# Slide "Filters to Detect X Features": the three 3x3 filters of an X (two diagonals and the centre cross).
SLIDE_X_FILTERS = torch.tensor(
    [
        [[1, -1, -1], [-1, 1, -1], [-1, -1, 1]],
        [[1, -1, 1], [-1, 1, -1], [1, -1, 1]],
        [[-1, -1, 1], [-1, 1, -1], [1, -1, -1]],
    ],
    dtype=torch.float32,
)


def load_filters(conv: nn.Conv2d, filters: torch.Tensor, bias: float = 0.0) -> nn.Conv2d:
    """Put fixed filters into a conv layer: `filters` is (out, k, k) for one input channel or (out, in, k, k)."""
    weight = filters if filters.dim() == 4 else filters.unsqueeze(1)
    if weight.shape != conv.weight.shape:
        raise UserError(
            f"filters of shape {tuple(weight.shape)} do not fit a conv layer of shape {tuple(conv.weight.shape)}"
        )
    with torch.no_grad():
        conv.weight.copy_(weight)
        if conv.bias is not None:
            conv.bias.fill_(bias)
    return conv


Pool = Literal["max", "avg", "none"]


class ConvBlock(nn.Sequential):
    """conv (same padding) -> [batch norm] -> ReLU -> pool 2x2/2 (max or average)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, pool: Pool, batch_norm: bool):
        layers = [nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=not batch_norm)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.ReLU())
        if pool == "max":
            layers.append(nn.MaxPool2d(2, 2))
        elif pool == "avg":
            layers.append(nn.AvgPool2d(2, 2))
        super().__init__(*layers)


class CNN(nn.Module):
    """Blocks of conv -> ReLU -> pool, sized from the input shape, then a fully connected head.

    Works unchanged on 8x8 digits, 28x28 MNIST and 32x32x3 CIFAR-10: a block that would pool an
    already 1-pixel-wide map is not added.
    """

    data_kinds = ("images",)  # what zoo.catalog lists this net with

    def __init__(
        self,
        input_shape,
        num_classes: int,
        channels: Channels = (32, 64),
        kernel_size: Annotated[int, Range(1, 99)] = 3,
        pool: Pool = "max",
        hidden: Count = 128,
        dropout: Fraction = 0.0,
        batch_norm: bool = False,
    ):
        super().__init__()
        parts.require_image("cnn", input_shape)
        c, h, w = input_shape
        blocks = []
        for c_out in channels:
            if pool != "none" and min(h, w) < 2:
                raise UserError(
                    f"{len(channels)} pooling blocks are too many for {input_shape[1]}x{input_shape[2]} "
                    f"images; use fewer model.channels"
                )
            blocks.append(ConvBlock(c, c_out, kernel_size, pool, batch_norm))
            c = c_out
            if pool != "none":
                h, w = h // 2, w // 2
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c * h * w, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
