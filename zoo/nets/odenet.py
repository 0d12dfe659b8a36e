"""ODE networks (slide "ResNet vs ODENet"), after Chen et al. 2018, "Neural Ordinary Differential Equations".

ResNet:  h_{t+1} = h_t + f(h_t, theta_t)       (one Euler step of size 1 per block)
ODENet:  dh(t)/dt = f(h(t), t, theta)           (integrated from t=0 to t=1 by an ODE solver)

The network: a downsampling stem -> one ODE block -> norm, ReLU, global pooling, linear head.
`block="resnet"` swaps the ODE block for `res_blocks` residual blocks with the same f, the
baseline of matching width; `solver="rk4", adjoint=False` is the RK-Net of the paper
(backpropagation through a fixed-step solver). Every call of f is counted in `nfe`.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from zoo.nets import parts
from zoo.ranges import Count, Positive

Solver = Literal["dopri5", "bosh3", "adaptive_heun", "rk4", "midpoint", "euler"]

FIXED_STEP = ("rk4", "midpoint", "euler")


def norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, channels), channels)


class ConcatConv2d(nn.Conv2d):
    """A 3x3 convolution that also sees the time t, as one extra constant input channel."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(c_in + 1, c_out, 3, 1, 1)

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        time_channel = torch.ones_like(h[:, :1]) * t
        return super().forward(torch.cat([time_channel, h], 1))


class ODEFunc(nn.Module):
    """f(h(t), t, theta): norm-ReLU-conv(t)-norm-ReLU-conv(t)-norm. Counts its evaluations."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm1, self.conv1 = norm(channels), ConcatConv2d(channels, channels)
        self.norm2, self.conv2 = norm(channels), ConcatConv2d(channels, channels)
        self.norm3 = norm(channels)
        self.nfe = 0

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        out = self.conv1(t, torch.relu(self.norm1(h)))
        out = self.conv2(t, torch.relu(self.norm2(out)))
        return self.norm3(out)


class ODEBlock(nn.Module):
    """h(1) = h(0) + integral_0^1 f(h(t), t) dt, by torchdiffeq (adjoint method optional)."""

    def __init__(
        self,
        func: ODEFunc,
        solver: Solver = "dopri5",
        rtol: float = 1e-3,
        atol: float = 1e-3,
        adjoint: bool = True,
        step_size: float = 0.25,
    ):
        super().__init__()
        self.func, self.solver, self.rtol, self.atol, self.adjoint = func, solver, rtol, atol, adjoint
        self.options = {"step_size": step_size} if solver in FIXED_STEP else {}
        self.register_buffer("times", torch.tensor([0.0, 1.0]))

    @property
    def adaptive(self) -> bool:
        """Whether the solver chooses its own steps (per input: no fixed graph to export)."""
        return self.solver not in FIXED_STEP

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        from torchdiffeq import odeint, odeint_adjoint

        integrate = odeint_adjoint if self.adjoint else odeint
        extra = {"adjoint_params": tuple(self.func.parameters())} if self.adjoint else {}
        trajectory = integrate(
            self.func,
            h,
            self.times.to(h.dtype),
            rtol=self.rtol,
            atol=self.atol,
            method=self.solver,
            options=self.options,
            **extra,
        )
        return trajectory[-1]


class ResidualBlocks(nn.Module):
    """The ResNet baseline: h <- h + f(h, t) repeated `n` times with t = i/n (Euler steps of size 1)."""

    def __init__(self, channels: int, n: int):
        super().__init__()
        self.funcs = nn.ModuleList(ODEFunc(channels) for _ in range(n))

    @property
    def nfe(self) -> int:
        return sum(f.nfe for f in self.funcs)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for i, f in enumerate(self.funcs):
            h = h + f(torch.tensor(i / len(self.funcs), device=h.device), h)
        return h


class ODENet(nn.Module):
    """Downsampling stem -> ODE block (or residual blocks) -> head; sized from the input shape.

    The stem halves the feature map (GroupNorm-ReLU-conv 4x4 stride 2) at least once and until it is
    at most 8 pixels wide: 28x28 MNIST -> 7x7 as in the paper, 32x32 CIFAR-10 -> 8x8, 8x8 digits -> 4x4.
    """

    data_kinds = ("images",)  # what zoo.catalog lists this net with

    def __init__(
        self,
        input_shape,
        num_classes: int,
        width: Count = 64,
        block: Literal["ode", "resnet"] = "ode",
        solver: Solver = "dopri5",
        rtol: Positive = 1e-3,
        atol: Positive = 1e-3,
        adjoint: bool = True,
        step_size: Positive = 0.25,
        res_blocks: Count = 6,
    ):
        super().__init__()
        parts.require_image("odenet", input_shape)
        c, h, _ = input_shape
        halvings = max(1, math.ceil(math.log2(h / 8)))
        stem = [nn.Conv2d(c, width, 3, 1, 1)]
        for _ in range(halvings):
            stem += [norm(width), nn.ReLU(), nn.Conv2d(width, width, 4, 2, 1)]
        self.stem = nn.Sequential(*stem)
        if block == "ode":
            self.block = ODEBlock(ODEFunc(width), solver, rtol, atol, adjoint, step_size)
        else:  # the ResNet baseline
            self.block = ResidualBlocks(width, res_blocks)
        self.head = nn.Sequential(
            norm(width), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes)
        )

    @property
    def nfe(self) -> int:
        """Evaluations of f so far (forward and, with the adjoint, backward); reset by assigning 0."""
        return self.block.func.nfe if isinstance(self.block, ODEBlock) else self.block.nfe

    @nfe.setter
    def nfe(self, value: int) -> None:
        for module in self.block.modules():
            if isinstance(module, ODEFunc):
                module.nfe = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(self.stem(x)))
