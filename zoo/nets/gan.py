"""Generator and discriminator pairs (slide "Generative Adversarial Networks (GANs)").

The generator G maps noise z ~ N(0, I) to a sample x = G(z); the discriminator D maps a sample to a
score whose sigmoid is the probability that the sample is real. Both are plain modules; the
adversarial game itself is played by zoo.learners.gan.GAN.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.errors import UserError
from zoo.nets import parts
from zoo.ranges import Count


class AdversarialPair(nn.Module):
    """A generator, a discriminator and the size of the noise the generator reads."""

    generator: nn.Module
    discriminator: nn.Module

    def __init__(self, latent_dim: int, output_activation: str):
        super().__init__()
        self.latent_dim = latent_dim
        self.output_activation = output_activation

    def noise(self, n: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, generator=generator, device=device)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Samples from noise: x = G(z)."""
        return self.generator(z)


def _mlp(sizes: list[int], hidden_activation) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(hidden_activation())
    return layers


class MLPGAN(AdversarialPair):
    """Fully connected G and D, the shape of Goodfellow et al. 2014, for points and flattened images.

    G: z -> [Linear -> ReLU] x depth -> Linear (-> sigmoid for images in [0, 1]).
    D: x -> [Linear -> LeakyReLU(0.2)] x depth -> Linear -> one score.
    """

    def __init__(self, input_shape, latent_dim: Count = 2, width: Count = 128, depth: Count = 3):
        images = len(input_shape) == 3
        super().__init__(latent_dim, "sigmoid" if images else "identity")
        self.input_shape = list(input_shape)
        n = parts.flat_size(input_shape)
        g_layers = _mlp([latent_dim] + [width] * depth + [n], nn.ReLU)
        if images:
            g_layers.append(nn.Sigmoid())
        self.generator = nn.Sequential(*g_layers, nn.Unflatten(1, tuple(input_shape)))
        self.discriminator = nn.Sequential(nn.Flatten(), *_mlp([n] + [width] * depth + [1], lambda: nn.LeakyReLU(0.2)))


def halvings(size: int) -> int:
    """How often a DCGAN up-samples by 2: as often as the side stays an integer of at least 4."""
    k = 0
    while size % 2 == 0 and size // 2 >= 4:
        size //= 2
        k += 1
    return k


class DCGAN(AdversarialPair):
    """Radford et al. 2016, sized from the image shape (8x8 digits, 28x28 MNIST, 32x32 CIFAR-10).

    G: z -> Linear to (features * 2^k) x s x s -> k transposed convs (4x4, stride 2), each doubling the
    side, batch norm + ReLU between, tanh at the end (images in [-1, 1]).
    D: k strided convs (4x4, stride 2) with LeakyReLU(0.2) (batch norm after the first) -> Linear -> score.
    All conv and linear weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02), as in the paper.
    """

    data_kinds = ("images",)  # what zoo.catalog lists this net with

    def __init__(self, input_shape, latent_dim: Count = 64, features: Count = 64):
        super().__init__(latent_dim, "tanh")
        parts.require_image("dcgan", input_shape)
        c, h, w = input_shape
        if h != w:
            raise UserError(f"model dcgan needs square images, got {h}x{w}")
        k = halvings(h)
        if k == 0:
            raise UserError(f"model dcgan needs an image side that halves to at least 4 (8, 28, 32, ...), got {h}")
        side = h // 2**k
        widths = [features * 2**i for i in range(k)]  # D: features, 2 features, ...; G mirrors it
        self.input_shape = list(input_shape)

        g: list[nn.Module] = [
            nn.Linear(latent_dim, widths[-1] * side * side, bias=False),
            nn.Unflatten(1, (widths[-1], side, side)),
            nn.BatchNorm2d(widths[-1]),
            nn.ReLU(),
        ]
        for c_in, c_out in zip(widths[::-1], widths[::-1][1:] + [c]):
            g.append(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=c_out == c))
            g += [nn.BatchNorm2d(c_out), nn.ReLU()] if c_out != c else [nn.Tanh()]
        self.generator = nn.Sequential(*g)

        d: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip([c] + widths[:-1], widths)):
            d.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=i == 0))
            d += ([nn.BatchNorm2d(c_out)] if i > 0 else []) + [nn.LeakyReLU(0.2)]
        d += [nn.Flatten(), nn.Linear(widths[-1] * side * side, 1)]
        self.discriminator = nn.Sequential(*d)
        self.apply(_dcgan_init)


def _dcgan_init(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
