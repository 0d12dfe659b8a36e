"""Small pieces every network family shares."""

import math

from torch import nn

from zoo.errors import UserError

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "identity": nn.Identity}


def activation(name: str) -> nn.Module:
    """The slide "Common Activation Functions": sigmoid, tanh, ReLU (and identity for a linear unit)."""
    if name not in ACTIVATIONS:
        raise UserError(f"model.activation '{name}' is unknown; choose one of {', '.join(ACTIVATIONS)}")
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
