"""How good are generated samples? Mode coverage on the 2-D mixtures, Fréchet distance on anything.

Mode coverage (Metz et al. 2017, Unrolled GANs; Srivastava et al. 2017, VEEGAN): a sample is of high
quality when it lies within three standard deviations of the nearest mode's centre; a mode is covered
when enough high-quality samples fall on it. A GAN that collapses onto a few modes scores high
quality but low coverage.

Fréchet distance (Heusel et al. 2017): fit a Gaussian to the features of real and of generated
samples, d^2 = |mu_r - mu_g|^2 + tr(S_r + S_g - 2 (S_r S_g)^(1/2)). FID takes the features from an
Inception network; offline, the zoo takes them from a small CNN it trains on the same data set.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from zoo.errors import UserError


def mode_coverage(samples: torch.Tensor, centres: torch.Tensor, std: float, min_share: float = 0.01):
    """(modes covered, fraction of high-quality samples); a mode counts once it holds `min_share` of the samples."""
    distance, nearest = torch.cdist(samples.double(), centres.double()).min(1)
    good = distance <= 3 * std
    counts = torch.bincount(nearest[good], minlength=len(centres))
    covered = int((counts >= max(1, min_share * len(samples))).sum())
    return covered, good.double().mean().item()


def _sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors (rows), in float64."""
    if len(real) < 2 or len(fake) < 2:
        raise UserError("the Fréchet distance needs at least two samples on each side")
    a, b = real.double().flatten(1), fake.double().flatten(1)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.atleast_2d(torch.cov(a.T)), torch.atleast_2d(torch.cov(b.T))
    root_a = _sqrtm_psd(cov_a)
    # tr (S_a S_b)^(1/2) = tr (S_a^(1/2) S_b S_a^(1/2))^(1/2): the inner matrix is symmetric PSD
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    return ((mu_a - mu_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * cross).item()


def fit_feature_classifier(
    x: torch.Tensor, y: torch.Tensor, num_classes: int, epochs: int = 10, seed: int = 0, batch_size: int = 128
):
    """A small CNN trained on (x, y) whose penultimate layer gives the Fréchet features for images.

    A plain loop on purpose: it runs inside a GAN's fit, where a second Lightning trainer would clash
    with the first; it is a measuring instrument, not a model of the zoo.
    """
    from zoo.nets.cnn import CNN

    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = CNN(list(x.shape[1:]), num_classes, channels=(32, 64), hidden=128).to(x.device)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    net.train()
    for _ in range(epochs):
        for index in torch.randperm(len(x), generator=generator).split(batch_size):
            loss = F.cross_entropy(net(x[index.to(x.device)]), y[index.to(x.device)])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    net.eval().requires_grad_(False)
    return net


def classifier_features(net, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """The 128 ReLU units before the class scores."""
    body = torch.nn.Sequential(net.features, *list(net.head)[:-2])
    with torch.no_grad():
        return torch.cat([body(part) for part in x.split(batch_size)])
