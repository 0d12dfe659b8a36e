"""RealNVP normalizing flow (Dinh et al. 2017), slide "Normalizing Flows" and "CVF".

A flow f is a chain of invertible maps from data x to a latent z ~ N(0, I). The change of variables
(slide "CVF") gives the exact log-likelihood:

    log p_x(x) = log p_z(f(x)) + log |det df/dx|

(the slide writes |det|; its logarithm is what is added). Each affine coupling layer keeps one part
of its input, x_a, and transforms the other, x_b' = x_b * exp(s(x_a)) + t(x_a), so its Jacobian is
triangular and log |det| = sum s(x_a): cheap to compute, and the inverse x_b = (x_b' - t(x_a)) * exp(-s(x_a))
needs no inversion of s or t. s is bounded (scale * tanh) so that exp(s) cannot blow up early in training.
"""

from __future__ import annotations

import math
from typing import Annotated

import torch
from torch import nn

from zoo.errors import UserError
from zoo.ranges import Count, Range


class AffineCoupling(nn.Module):
    """x' = x_a + (1 - mask) * (x * exp(s(x_a)) + t(x_a)), with x_a = x * mask (mask 1 = kept)."""

    def __init__(self, mask: torch.Tensor, st_net: nn.Module):
        super().__init__()
        self.register_buffer("mask", mask)
        self.st_net = st_net  # maps x_a to 2 x its channels: s and t; its last layer starts at zero
        self.scale = nn.Parameter(torch.ones(scale_shape(mask)))

    def _s_t(self, x_a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self.st_net(x_a).chunk(2, dim=1)
        keep = 1 - self.mask
        return self.scale * torch.tanh(s) * keep, t * keep

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x_a = x * self.mask
        s, t = self._s_t(x_a)
        return x_a + (1 - self.mask) * (x * torch.exp(s) + t), s.flatten(1).sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        y_a = y * self.mask
        s, t = self._s_t(y_a)
        return y_a + (1 - self.mask) * ((y - t) * torch.exp(-s))


def scale_shape(mask: torch.Tensor) -> tuple[int, ...]:
    """One bound per feature for vectors, per channel for images."""
    return tuple(mask.shape) if mask.dim() == 1 else (1, mask.shape[1], 1, 1)


class ActNorm(nn.Module):
    """y = (x + b) * exp(log_s) per feature or channel (Kingma & Dhariwal 2018); starts as the identity.

    Stands in for RealNVP's batch norm: it normalises without batch statistics, so it inverts exactly
    in training and evaluation alike.
    """

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(shape))
        self.log_scale = nn.Parameter(torch.zeros(shape))

    def forward(self, x):
        pixels = x[0, 0].numel() if x.dim() == 4 else 1
        return (x + self.bias) * torch.exp(self.log_scale), self.log_scale.sum().expand(len(x)) * pixels

    def inverse(self, y):
        return y * torch.exp(-self.log_scale) - self.bias


def squeeze(x: torch.Tensor) -> torch.Tensor:
    """(C, H, W) -> (4C, H/2, W/2): each 2x2 patch becomes four channels (volume preserving)."""
    n, c, h, w = x.shape
    return x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, 4 * c, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.view(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c // 4, 2 * h, 2 * w)


def checkerboard(channels: int, h: int, w: int, parity: int) -> torch.Tensor:
    board = ((torch.arange(h)[:, None] + torch.arange(w)[None, :]) % 2 == parity).float()
    return board.expand(1, channels, h, w).clone()


def channel_mask(channels: int, parity: int) -> torch.Tensor:
    half = torch.arange(channels) < channels // 2
    return (half if parity == 0 else ~half).float().view(1, channels, 1, 1)


def zero_last(net: nn.Sequential) -> nn.Sequential:
    """Zero the last layer so every coupling starts as the identity map."""
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net


def mlp_st(features: int, hidden: int) -> nn.Sequential:
    # tanh, not ReLU: s and t then vary smoothly with x_a, and so does the density (ReLU nets leave
    # kinks in it; the generative section, `make section-generative`, has the likelihoods of both on moons)
    return zero_last(
        nn.Sequential(
            nn.Linear(features, hidden),
            nn.Tanh(),
            nn.Linear(hidden, hidden),
            nn.Tanh(),
            nn.Linear(hidden, 2 * features),
        )
    )


def conv_st(channels: int, hidden: int) -> nn.Sequential:
    return zero_last(
        nn.Sequential(
            nn.Conv2d(channels, hidden, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1),
            nn.ReLU(),
            nn.Conv2d(hidden, 2 * channels, 3, padding=1),
        )
    )


class Chain(nn.Module):
    """Invertible steps applied in order; the log-determinants add up."""

    def __init__(self, steps: list[nn.Module]):
        super().__init__()
        self.steps = nn.ModuleList(steps)

    def forward(self, x):
        logdet = x.new_zeros(len(x))
        for step in self.steps:
            x, ld = step(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, y):
        for step in reversed(self.steps):
            y = step.inverse(y)
        return y


def coupling_steps(masks: list[torch.Tensor], make_st) -> list[nn.Module]:
    steps: list[nn.Module] = []
    for mask in masks:
        steps += [AffineCoupling(mask, make_st()), ActNorm(scale_shape(mask))]
    return steps


class RealNVP(nn.Module):
    """x -> z = f(x) with log |det df/dx|; vectors or images, chosen by the data's input shape.

    Vectors (e.g. 2-D points): `couplings` affine couplings whose masks alternate between the two
    halves of the features. Images: the multi-scale architecture of the paper: per scale, three
    checkerboard couplings, a squeeze, three channel-wise couplings, then half the channels are
    factored out into z; the last scale has four checkerboard couplings.
    """

    def __init__(
        self,
        input_shape,
        hidden: Count = 64,
        couplings: Annotated[int, Range(2, 10**4, note="each feature is changed by every other coupling")] = 8,
        scales: Annotated[int, Range(1, 16)] = 2,
    ):
        super().__init__()
        self.input_shape = list(input_shape)
        self.dim = math.prod(input_shape)
        if len(input_shape) == 1:
            (d,) = input_shape
            if d < 2:
                raise UserError("a RealNVP needs at least 2 features to split between its couplings")
            half = (torch.arange(d) < d // 2).float()
            masks = [half if i % 2 == 0 else 1 - half for i in range(couplings)]
            self.stages = nn.ModuleList([Chain(coupling_steps(masks, lambda: mlp_st(d, hidden)))])
            self.factor_shapes: list[tuple] = []
            return
        if len(input_shape) != 3:
            raise UserError(
                f"RealNVP takes vectors or images (channels x height x width), got shape {tuple(input_shape)}"
            )
        c, h, w = input_shape
        if h % 2 ** (scales - 1) or w % 2 ** (scales - 1):
            raise UserError(f"{h}x{w} images cannot be squeezed {scales - 1} times; use fewer model.scales")
        stages, self.factor_shapes = [], []
        for _ in range(scales - 1):
            steps = coupling_steps([checkerboard(c, h, w, i % 2) for i in range(3)], lambda c=c: conv_st(c, hidden))
            c, h, w = 4 * c, h // 2, w // 2
            steps.append(Squeeze())
            steps += coupling_steps([channel_mask(c, i % 2) for i in range(3)], lambda c=c: conv_st(c, hidden))
            stages.append(Chain(steps))
            c = c // 2  # half the channels leave for z
            self.factor_shapes.append((c, h, w))
        stages.append(
            Chain(coupling_steps([checkerboard(c, h, w, i % 2) for i in range(4)], lambda c=c: conv_st(c, hidden)))
        )
        self.final_shape = (c, h, w)
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z = f(x) flattened to (N, D), and log |det df/dx| per example."""
        zs, logdet = [], x.new_zeros(len(x))
        for i, stage in enumerate(self.stages):
            x, ld = stage(x)
            logdet = logdet + ld
            if i < len(self.factor_shapes):  # factor out: half the channels are final
                z, x = x.chunk(2, dim=1)
                zs.append(z.flatten(1))
        zs.append(x.flatten(1))
        return torch.cat(zs, 1), logdet

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """x = f^{-1}(z) for z of shape (N, D)."""
        if not self.factor_shapes:
            return self.stages[0].inverse(z.view(len(z), *self.input_shape))
        sizes = [math.prod(s) for s in self.factor_shapes] + [math.prod(self.final_shape)]
        parts = list(z.split(sizes, dim=1))
        x = parts[-1].view(len(z), *self.final_shape)
        x = self.stages[-1].inverse(x)
        for i in reversed(range(len(self.factor_shapes))):
            x = torch.cat([parts[i].view(len(z), *self.factor_shapes[i]), x], 1)
            x = self.stages[i].inverse(x)
        return x

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p_x(x) = log N(f(x); 0, I) + log |det df/dx| (nats, per example)."""
        z, logdet = self(x)
        return standard_normal_log_prob(z) + logdet

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """x = f^{-1}(z), z ~ N(0, temperature^2 I): lower temperatures give typical-looking samples."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.dim, generator=generator, device=device) * temperature
        return self.inverse(z)


class Squeeze(nn.Module):
    """squeeze() as a step of a Chain (log |det| = 0)."""

    def forward(self, x):
        return squeeze(x), x.new_zeros(len(x))

    def inverse(self, y):
        return unsqueeze(y)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * (z.pow(2) + math.log(2 * math.pi)).flatten(1).sum(1)


# --- images: from discrete pixels to the real line and back ----------------------------------------
def dequantize_logit(x_unit: torch.Tensor, levels: int, alpha: float, noise: torch.Tensor):
    """Pixels k/(levels-1) in [0, 1] -> y = logit(alpha + (1 - 2 alpha) v), v = (k + u) / levels.

    Returns y and the log-determinant per example of v -> y. Uniform dequantisation (u ~ U[0, 1))
    turns the discrete pixels into a continuous density whose log-likelihood lower-bounds the
    discrete one once D log(levels) is subtracted (see zoo.learners.flow); the logit maps [0, 1] to the real
    line the Gaussian latent lives on, and alpha keeps it away from the infinities at 0 and 1.
    """
    k = torch.round(x_unit * (levels - 1))
    v = (k + noise) / levels
    p = alpha + (1 - 2 * alpha) * v
    y = torch.log(p) - torch.log1p(-p)
    logdet = (math.log(1 - 2 * alpha) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(1)
    return y, logdet


def inverse_logit(y: torch.Tensor, alpha: float) -> torch.Tensor:
    """Back to pixel intensities in [0, 1]."""
    return ((torch.sigmoid(y) - alpha) / (1 - 2 * alpha)).clamp(0, 1)
