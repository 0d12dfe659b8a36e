"""The perceptron and the deep multilayer perceptron of the lecture's first part.

Slide "The Perceptron": y_hat = g(w0 + x^T w).
Slide "Deep Neural Network": z_{k,i} = w^{(k)}_{0,i} + sum_j g(z_{k-1,j}) w^{(k)}_{j,i}.
Slide "Gradient Descent": initialise the weights ~ N(0, sigma^2).
"""

import torch
from torch import nn

from zoo.errors import UserError
from zoo.nets import parts

INITS = ("normal", "xavier", "kaiming")


def init_linear(layer: nn.Linear, init: str, std: float, nonlinearity: str) -> None:
    """Initialise weights as the slide does (N(0, std^2)) or with the Xavier / Kaiming scalings; biases at 0."""
    if init == "normal":
        nn.init.normal_(layer.weight, 0.0, std)
    elif init == "xavier":
        nn.init.xavier_normal_(layer.weight)
    elif init == "kaiming":
        # He et al.'s scaling with the gain of the layer's own nonlinearity (1 for a linear output).
        gain_name = nonlinearity if nonlinearity in ("relu", "tanh", "sigmoid") else "linear"
        nn.init.kaiming_normal_(layer.weight, nonlinearity=gain_name)
    else:
        raise UserError(f"unknown init '{init}'; choose one of {', '.join(INITS)}")
    nn.init.zeros_(layer.bias)


class Perceptron(nn.Module):
    """One layer of units, y_hat = g(w0 + x^T w), one unit per class.

    The classifier reads the outputs as class scores (logits). With g = identity the softmax in the
    cross-entropy is the link function; for two classes softmax(z)_1 = sigmoid(z_1 - z_0).
    """

    def __init__(self, input_shape, num_classes: int, activation: str = "identity"):
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
        depth: int = 2,
        width: int = 256,
        activation: str = "relu",
        init: str = "kaiming",
        init_std: float = 0.01,
        dropout: float = 0.0,
        batch_norm: bool = False,
    ):
        super().__init__()
        if depth < 0 or width < 1:
            raise UserError(f"an MLP needs depth >= 0 and width >= 1, got depth={depth}, width={width}")
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
