"""A CNN built to train fast (slide "CNNs for Classification", as Page 2018 and Jordan 2024 train one).

David Page, "How to train your ResNet" (2018), and Keller Jordan, "94 % on CIFAR-10 in 3.29 seconds on a single
GPU" (airbench, 2024): the slide's convolution -> non-linearity -> pooling, arranged for speed.

1. A 2x2 patch-whitening convolution: its filters are the eigenvectors e_i of the covariance of the training images'
   2x2 patches, scaled by 1/sqrt(lambda_i + eps) and taken with both signs, so its outputs are decorrelated and of
   unit variance. They are computed once from the training images (`fit_to_data`, handed to the net before training
   by the learner) and frozen; the layer's bias trains for the first `whiten_bias_epochs` epochs only.
2. Three groups of conv 3x3 -> max-pool 2 -> batch norm -> GELU -> conv 3x3 -> batch norm -> GELU, each convolution
   starting as the identity on its first input channels (Dirac initialisation), batch norm with its scale frozen
   at 1 (only its shift learns).
3. A global max-pool and a bias-free linear layer whose scores are scaled by `head_scale` (1/9 in airbench).

The pools round up (ceil mode), so 8x8 digits keep a 1x1 map after three halvings.
"""

from __future__ import annotations

from typing import Annotated

import torch
import torch.nn.functional as F
from torch import nn

from zoo.nets import parts
from zoo.ranges import Channels, Count, NonNegativeCount, Range

Eps = Annotated[float, Range(0, low_open=True)]


def patch_whitening(x: torch.Tensor, eps: float, chunk: int = 500) -> torch.Tensor:
    """Conv weights (2 * 4C, C, 2, 2): the whitening directions of the 2x2 patches of images x (N, C, H, W), both
    signs (the covariance is accumulated in chunks of images, in double precision)."""
    c = x.shape[1]
    total, outer, count = torch.zeros(c * 4, dtype=torch.float64), torch.zeros(c * 4, c * 4, dtype=torch.float64), 0
    for part in x.split(chunk):
        patches = part.unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, c * 4).double()
        total += patches.sum(0)
        outer += patches.T @ patches
        count += len(patches)
    mean = total / count
    covariance = (outer - count * torch.outer(mean, mean)) / max(count - 1, 1)
    values, vectors = torch.linalg.eigh(covariance)
    weight = (vectors.T / (values.clamp(min=0) + eps).sqrt()[:, None]).reshape(c * 4, c, 2, 2).float()
    return torch.cat([weight, -weight])


def conv(c_in: int, c_out: int) -> nn.Conv2d:
    layer = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
    nn.init.dirac_(layer.weight.data[: min(c_in, c_out)])
    return layer


def batch_norm(width: int, momentum: float) -> nn.BatchNorm2d:
    norm = nn.BatchNorm2d(width, momentum=momentum, eps=1e-12)
    norm.weight.requires_grad_(False)  # the scale stays 1: the following conv's weights carry it
    return norm


class ConvGroup(nn.Sequential):
    """conv -> max-pool 2 -> batch norm -> GELU -> conv -> batch norm -> GELU."""

    def __init__(self, c_in: int, c_out: int, momentum: float):
        norm = lambda: batch_norm(c_out, momentum)  # noqa: E731
        super().__init__(conv(c_in, c_out), nn.MaxPool2d(2, ceil_mode=True), norm(), nn.GELU(), conv(c_out, c_out),
                         norm(), nn.GELU())  # fmt: skip


class FastCNN(nn.Module):
    data_kinds = ("images",)  # what zoo.catalog lists this net with

    def __init__(
        self,
        input_shape: tuple[int, int, int] = (3, 32, 32),
        num_classes: int = 10,
        widths: Channels = (64, 256, 256),
        whiten_eps: Eps = 5e-4,
        batch_norm_momentum: Annotated[float, Range(0, 1, low_open=True)] = 0.4,
        head_scale: Annotated[float, Range(0, low_open=True)] = 1 / 9,
        fit_images: Count = 5000,
        whiten_bias_epochs: NonNegativeCount = 3,
    ):
        super().__init__()
        parts.require_image("fastcnn", input_shape)
        c = input_shape[0]
        self.whiten_eps, self.fit_images, self.head_scale = whiten_eps, fit_images, head_scale
        self.whiten_bias_epochs = whiten_bias_epochs
        self.whiten = nn.Conv2d(c, 8 * c, 2)
        self.whiten.weight.requires_grad_(False)
        nn.init.zeros_(self.whiten.bias)
        groups, c_in = [], 8 * c
        for width in widths:
            groups.append(ConvGroup(c_in, width, batch_norm_momentum))
            c_in = width
        self.groups = nn.Sequential(*groups)
        self.head = nn.Linear(c_in, num_classes, bias=False)

    @torch.no_grad()
    def fit_to_data(self, x: torch.Tensor) -> None:
        """The whitening filters from (up to `fit_images` of) the training images, as the net will see them."""
        self.whiten.weight.copy_(patch_whitening(x[: self.fit_images].float().cpu(), self.whiten_eps))

    def epoch_started(self, epoch: int) -> None:
        """Told by the learner at each training epoch's start (counted from 0)."""
        self.whiten.bias.requires_grad_(epoch < self.whiten_bias_epochs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.groups(F.gelu(self.whiten(x)))
        return self.head(F.adaptive_max_pool2d(h, 1).flatten(1)) * self.head_scale
