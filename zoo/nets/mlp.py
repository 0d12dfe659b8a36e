"""The perceptron and the deep multilayer perceptron of the lecture's first part.

Slide "The Perceptron": y_hat = g(w0 + x^T w).
Slide "Deep Neural Network": z_{k,i} = w^{(k)}_{0,i} + sum_j g(z_{k-1,j}) w^{(k)}_{j,i}.
Slide "Gradient Descent": initialise the weights ~ N(0, sigma^2).
"""

from typing import Annotated, Literal

import torch
from torch import nn

from zoo.nets import parts
from zoo.ranges import Count, Fraction, Positive, Range

Init = Literal["normal", "xavier", "kaiming"]


def init_linear(layer: nn.Linear, init: Init, std: float, nonlinearity: str) -> None:
    """Initialise weights as the slide does (N(0, std^2)) or with the Xavier / Kaiming scalings; biases at 0."""
    if init == "normal":
        nn.init.normal_(layer.weight, 0.0, std)
    elif init == "xavier":
        nn.init.xavier_normal_(layer.weight)
    else:  # kaiming: He et al.'s scaling with the gain of the layer's own nonlinearity (1 for a linear output)
        gain_name = nonlinearity if nonlinearity in ("relu", "tanh", "sigmoid") else "linear"
        nn.init.kaiming_normal_(layer.weight, nonlinearity=gain_name)
    nn.init.zeros_(layer.bias)


class Perceptron(nn.Module):
    """One layer of units, y_hat = g(w0 + x^T w), one unit per class.

    The classifier reads the outputs as class scores (logits). With g = identity the softmax in the
    cross-entropy is the link function; for two classes softmax(z)_1 = sigmoid(z_1 - z_0).
    """

    def __init__(self, input_shape, num_classes: int, activation: parts.Activation = "identity"):
        super().__init__()
        self.linear = nn.Linear(parts.flat_size(input_shape), num_classes)  # w0 is the bias
        self.g = parts.activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.g(self.linear(x.flatten(1)))


class MLP(nn.Module):
    """Deep MLP: `depth` hidden layers of `width` units, activation g, optional dropout and batch norm."""

    def __init__(
        self,
        input_shape,
        num_classes: int,
        depth: Annotated[int, Range(0, 10**4, note="0 is the perceptron")] = 2,
        width: Count = 256,
        activation: parts.Activation = "relu",
        init: Init = "kaiming",
        init_std: Positive = 0.01,
        dropout: Fraction = 0.0,
        batch_norm: bool = False,
    ):
        super().__init__()
        layers, fan_in = [], parts.flat_size(input_shape)
        for _ in range(depth):
            linear = nn.Linear(fan_in, width)
            init_linear(linear, init, init_std, activation)
            layers.append(linear)
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(parts.activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            fan_in = width
        head = nn.Linear(fan_in, num_classes)
        init_linear(head, init, init_std, "linear")
        layers.append(head)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.flatten(1))
