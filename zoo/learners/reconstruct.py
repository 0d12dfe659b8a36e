"""Learning without labels: an autoencoder reconstructs its input through a small code.

Slide "Supervised vs Unsupervised Learning": data x, no labels y; the goal is to learn some
underlying hidden structure of the data (here a dimensionality reduction). The labels are used only
to measure that claim: how well k nearest neighbours in the code predict the class, against the same
classifier on PCA's projection of the images to as many numbers.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from zoo.errors import UserError
from zoo.learners.base import Learner

NEIGHBOURS = 5


def knn_accuracy(train: torch.Tensor, train_labels, test: torch.Tensor, test_labels) -> float:
    """Accuracy of scikit-learn's 5-nearest-neighbour classifier fitted on train, scored on test."""
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(NEIGHBOURS).fit(train.cpu().numpy(), train_labels.cpu().numpy())
    return float(knn.score(test.cpu().numpy(), test_labels.cpu().numpy()))


def pca_codes(train: torch.Tensor, test: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The images projected on the first `size` principal components of the training images."""
    from sklearn.decomposition import PCA

    pca = PCA(size, random_state=0).fit(train.flatten(1).cpu().numpy())
    return tuple(torch.as_tensor(pca.transform(x.flatten(1).cpu().numpy())) for x in (train, test))


class Reconstructor(Learner):
    """Trains x̂ = decode(encode(x)) to equal x under the mean squared error; reports test/recon_mse and
    the k-NN accuracy of the code (test/knn_acc) against PCA's projection of the same size (test/pca_knn_acc).
    """

    instead = "evaluate.py mode=sample n=64 draws samples from it"

    data_kinds = ("images",)
    main_metric = "recon_mse"
    pixel_scaling = "unit"  # the decoder's sigmoid draws pixels in [0, 1]

    @classmethod
    def net_sizes(cls, data) -> dict:
        return {"input_shape": data.input_shape}

    def start(self) -> None:
        self.code_moments: torch.Tensor | None = None  # this epoch's training codes: [count, sums, squares]
        self.code_spread: list[list[float]] | None = None  # the last epoch's code mean and deviation (mode=sample)

    def _step(self, batch, split: str) -> torch.Tensor:
        x = batch[0]
        code = self.net.encode(x)
        loss = F.mse_loss(self.net.decode(code), x)
        self.accumulate(split, len(x), loss=loss, recon_mse=loss)
        if split == "train":
            code = code.detach().float()
            moments = torch.stack([torch.full_like(code[0], len(code)), code.sum(0), (code**2).sum(0)])
            self.code_moments = moments if self.code_moments is None else self.code_moments + moments
        return loss

    def on_train_epoch_start(self):
        super().on_train_epoch_start()
        self.code_moments = None

    def keep_code_spread(self) -> None:
        """The training codes' mean and deviation so far this epoch, over every DDP process (all of them call it)."""
        if self.code_moments is None:
            return
        moments = self.code_moments
        if self.trainer.world_size > 1:
            moments = self.trainer.strategy.reduce(moments, reduce_op="sum")
        mean = moments[1] / moments[0]
        std = (moments[2] / moments[0] - mean**2).clamp_min(0).sqrt()
        self.code_spread = [mean.tolist(), std.tolist()]

    def on_validation_epoch_start(self):  # after the epoch's training steps, before its checkpoint is written
        if self.trainer.state.fn == "fit" and not self.trainer.sanity_checking:
            self.keep_code_spread()

    def on_train_epoch_end(self):
        super().on_train_epoch_end()
        self.keep_code_spread()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["zoo_state"]["code_spread"] = self.code_spread

    def restore(self, state: dict) -> None:
        super().restore(state)
        self.code_spread = state.get("code_spread")

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """Decoded codes drawn from a Gaussian with the training codes' mean and deviation per coordinate (the
        autoencoder learns no density of its codes: this one is the simplest that stays where codes fall)."""
        if self.code_spread is None:
            raise UserError(
                "this autoencoder's checkpoint holds no statistics of its codes (it was written before mode=sample, or "
                "before its first training epoch ended); train it again to sample from it"
            )
        self.eval()
        mean, std = (torch.tensor(v, device=self.device) for v in self.code_spread)
        generator = torch.Generator(device=self.device).manual_seed(seed)
        codes = mean + std * torch.randn(n, len(mean), generator=generator, device=self.device)
        return torch.cat([self.net.decode(part) for part in codes.split(1024)]).cpu()

    @torch.no_grad()
    def codes(self, x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
        self.eval()
        return torch.cat([self.net.encode(part.to(self.device)) for part in x.split(chunk)]).cpu()

    def structure_found(self, datamodule) -> dict[str, float]:
        """k-NN accuracy in the code and in PCA's projection of the same size (test split, fitted on train)."""
        train, test = datamodule.inputs("train"), datamodule.inputs("test")
        train_labels, test_labels = datamodule.splits["train"].y, datamodule.splits["test"].y
        code_train, code_test = self.codes(train), self.codes(test)
        pca_train, pca_test = pca_codes(train, test, code_train.shape[1])
        return {
            "knn_acc": knn_accuracy(code_train, train_labels, code_test, test_labels),
            "pca_knn_acc": knn_accuracy(pca_train, train_labels, pca_test, test_labels),
        }

    def on_test_epoch_end(self):
        super().on_test_epoch_end()
        self.log_epoch("test", self.structure_found(self.trainer.datamodule))

    def save_figures(self, out_dir: Path, datamodule) -> list[Path]:
        from zoo import plots

        test = datamodule.inputs("test")[:2000]
        labels = datamodule.splits["test"].y[: len(test)]
        code = self.codes(test)
        if code.shape[1] > 2:
            code = pca_codes(code, code, 2)[0]
        with torch.no_grad():
            rebuilt = self.net(test[:32].to(self.device)).cpu()
        return [
            plots.code_scatter(code, labels, out_dir / "code.png"),
            plots.sample_grid(
                torch.cat([test[:32], rebuilt]),
                out_dir / "reconstructions.png",
                "inputs (top), reconstructions (bottom)",
            ),
        ]
