"""Small pieces every network family shares."""

import math
from typing import Literal

from torch import nn

from zoo.errors import UserError

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "identity": nn.Identity}
Activation = Literal["sigmoid", "tanh", "relu", "identity"]  # what an `activation` option takes


def activation(name: Activation) -> nn.Module:
    """The slide "Common Activation Functions": sigmoid, tanh, ReLU (and identity for a linear unit)."""
    return ACTIVATIONS[name]()


def flat_size(input_shape) -> int:
    """Number of input features once an example is flattened into the slide's vector x."""
    return math.prod(input_shape)


def require_image(net_name: str, input_shape) -> None:
    """Convolutional nets need (channels, height, width); say so instead of failing inside a conv."""
    if len(input_shape) != 3:
        raise UserError(
            f"model {net_name} needs images (channels x height x width) but the data gives examples of shape "
            f"{tuple(input_shape)}; use data=digits, mnist, fashion_mnist or cifar10, or model=mlp for vectors"
        )


def double_conv(c_in: int, c_out: int) -> nn.Sequential:
    """(conv 3x3 -> batch norm -> ReLU) twice: a U-Net level, and the detector's and captioner's blocks."""
    layers = []
    for c in (c_in, c_out):
        layers += [nn.Conv2d(c, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
    return nn.Sequential(*layers)


def check_divisible(net_name: str, input_shape, step: int, why: str) -> None:
    """Nets that halve or fold the image need sides that divide evenly; say so instead of failing inside."""
    if input_shape[1] % step or input_shape[2] % step:
        raise UserError(
            f"model {net_name} {why}: the image's height and width must be multiples of {step}, got "
            f"{input_shape[1]}x{input_shape[2]}; change data.canvas or model.channels"
        )
