"""Normalizing flows trained by exact maximum likelihood (slides "Normalizing Flows", "CVF").

The loss is the negative log-likelihood from the change of variables, log p_x(x) = log p_z(f(x)) +
log |det df/dx|, averaged over a batch. For images the pixels are discrete: uniform dequantisation
v = (k + u) / L turns them into a density on [0, 1]^D and the logit maps that to the real line
(both counted in the log-determinant); subtracting D log L gives a lower bound on the discrete
log-likelihood, reported as test/nll (nats per example) and test/bpd (bits per dimension,
nll / (D ln 2)), the unit of the RealNVP paper's tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import torch

from datamodules.description import DataDescription
from zoo.errors import UserError
from zoo.learners.base import Evaluation, Learner
from zoo.nets.realnvp import dequantize_logit, inverse_logit
from zoo.ranges import Fraction, Positive, Range


class Flow(Learner):
    """Trains a zoo.nets.realnvp.RealNVP (or any net with log_prob / sample) by maximum likelihood."""

    instead = "evaluate.py mode=sample n=64 draws samples from it"

    data_kinds = ("points", "images")
    main_metric = "bpd"
    pixel_scaling = "unit"

    @classmethod
    def net_sizes(cls, data: DataDescription) -> dict:
        return {"input_shape": data.input_shape}

    @dataclass(frozen=True)
    class Options(Learner.Options):
        alpha: Annotated[float, Range(0, 0.5, high_open=True, note="logit(alpha + (1 - 2 alpha) x) stays finite")] = (
            0.05
        )
        temperature: Positive = 1.0
        gmm_components: Annotated[int, Range(0, 1000, note="0: no mixture baseline")] = 10
        perturb: Fraction = 0.0

    def start(self) -> None:
        data = self.data
        self.images = data.kind == "images"
        if self.perturb and data.kind != "images":
            raise UserError(f"model.perturb replaces pixels, for images only; data of {data.kind} has none")
        self.levels = data.levels
        self.dim = math.prod(data.input_shape)

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) per example in nats (for images: of the discrete pixels, a dequantised lower bound)."""
        if not self.images:
            return self.net.log_prob(x.flatten(1))
        y, logdet = dequantize_logit(x, self.levels, self.alpha, torch.rand_like(x))
        return self.net.log_prob(y) + logdet - self.dim * math.log(self.levels)

    def bits_per_dim(self, x: torch.Tensor) -> torch.Tensor:
        """-log2 p(x) / D per example: the outlier score (higher = less like the training data)."""
        return -self.log_likelihood(x) / (self.dim * math.log(2))

    def _step(self, batch, split: str) -> torch.Tensor:
        x = batch[0]
        if split == "train" and self.perturb:
            x = perturb_pixels(x, self.perturb, self.levels)
        nll = -self.log_likelihood(x).mean()
        self.accumulate(split, len(x), loss=nll, nll=nll, bpd=nll / (self.dim * math.log(2)))
        return nll

    @torch.no_grad()
    def sample(self, n: int, temperature: float | None = None, seed: int = 0) -> torch.Tensor:
        """n samples in the data's scale, z ~ N(0, T^2 I)."""
        generator = torch.Generator(device=self.device).manual_seed(seed)
        x = self.net.sample(n, self.temperature if temperature is None else temperature, generator)
        return inverse_logit(x, self.alpha) if self.images else x

    def on_test_epoch_end(self):
        super().on_test_epoch_end()
        if not self.images and self.gmm_components and self.trainer.is_global_zero:
            datamodule = self.trainer.datamodule
            self.log(
                "test/gmm_nll",
                gaussian_mixture_nll(datamodule.splits["train"].x, datamodule.splits["test"].x, self.gmm_components),
            )

    def evaluate_options(
        self,
        datamodule,
        out_dir: Path,
        evaluation: Evaluation,
        *,
        ood: list[str] | str | None = None,
        ood_scores: list[str] | str | None = None,
        ood_background: str | None = None,
        ood_batch: Annotated[int, Range(1, 10**4)] = 10,
    ) -> dict:
        """`ood=[...]`: how well the likelihood and its corrections (`ood_scores`) tell the test split from each
        outlier set (zoo.metrics.outliers)."""
        if ood is None:
            if ood_scores is not None or ood_background is not None:
                raise UserError("ood_scores and ood_background score outlier sets: name them with ood=[...] too")
            return {}
        from zoo.metrics.outliers import detect

        names = [ood] if isinstance(ood, str) else list(ood)
        scores = None if ood_scores is None else [ood_scores] if isinstance(ood_scores, str) else list(ood_scores)
        return detect(self, datamodule, out_dir, evaluation, names, scores, ood_background, ood_batch)

    def save_figures(self, out_dir: Path, datamodule) -> list[Path]:
        from zoo import plots

        self.eval()
        if self.images:
            return [
                plots.sample_grid(self.sample(64), out_dir / "samples.png", f"samples, temperature {self.temperature}")
            ]
        train = datamodule.splits["train"].x
        paths = []
        if train.shape[1] == 2:
            paths.append(plots.density(lambda p: self.net.log_prob(p.to(self.device)), train, out_dir / "density.png"))
        paths.append(
            plots.point_samples(
                train, self.sample(len(train)), out_dir / "samples.png", f"samples, temperature {self.temperature}"
            )
        )
        return paths


def perturb_pixels(x: torch.Tensor, rate: float, levels: int) -> torch.Tensor:
    """Each pixel, with probability `rate`, replaced by a uniformly drawn grey level (Ren et al. 2019's background)."""
    noise = torch.randint_like(x, levels) / (levels - 1)
    return torch.where(torch.rand_like(x) < rate, noise, x)


def gaussian_mixture_nll(train: torch.Tensor, test: torch.Tensor, components: int, seed: int = 0) -> float:
    """Test negative log-likelihood (nats per example) of a scikit-learn Gaussian mixture fitted on train."""
    from sklearn.mixture import GaussianMixture

    mixture = GaussianMixture(components, covariance_type="full", random_state=seed).fit(train.double().numpy())
    return float(-mixture.score(test.double().numpy()))
