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


# The ImageNet-line nets (AlexNet, ZFNet, VGG, GoogLeNet) keep the paper's stem on ImageNet-sized images and a
# 3x3 stride-1 stem on small ones (digits, CIFAR), where an 11x11 stride-4 filter would leave nothing to see.
IMAGENET_SIDE = 112  # "auto": the paper's stem from this side up
Stem = Literal["auto", "imagenet", "small"]


def paper_stem(net_name: str, input_shape, stem: Stem, smallest: int) -> bool:
    """Whether to build the paper's ImageNet stem; `smallest` is the least side it can take."""
    require_image(net_name, input_shape)
    side = min(input_shape[1], input_shape[2])
    if stem == "imagenet" and side < smallest:
        raise UserError(
            f"model.stem=imagenet for {net_name} needs images of at least {smallest}x{smallest}, got "
            f"{input_shape[1]}x{input_shape[2]}; use model.stem=small (or auto)"
        )
    return stem == "imagenet" or (stem == "auto" and side >= IMAGENET_SIDE)


def scaled(channels: int, width: float, multiple: int = 1) -> int:
    """The paper's channel count times the width multiplier, a whole multiple of `multiple` (its groups)."""
    return multiple * max(1, round(channels * width / multiple))


def halve_if_room(side: int, layers: list) -> int:
    """A small net's 2x2 max pool (stride 2), appended while the map is at least 2 wide; the side after it."""
    if side < 2:
        return side
    layers.append(nn.MaxPool2d(2, 2))
    return side // 2


def weight_layers_on_longest_path(net: nn.Module) -> int:
    """How deep a net is as its paper counts: the most conv and linear layers any input-to-output path
    passes through (branches side by side count once; parameter-free layers not at all). The net is
    traced symbolically (torch.fx), so it may be built on the meta device with no weights allocated."""
    from torch import fx

    graph = fx.symbolic_trace(net).graph
    modules = dict(net.named_modules())
    depth: dict = {}
    for node in graph.nodes:  # in topological order
        before = max((depth[n] for n in node.all_input_nodes), default=0)
        weighted = node.op == "call_module" and isinstance(modules[node.target], (nn.Conv2d, nn.Linear))
        depth[node] = before + weighted
    return max(depth.values())
