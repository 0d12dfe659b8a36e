"""Generative adversarial networks (slide "Generative Adversarial Networks (GANs)").

The slide's min-max game between a generator G and a discriminator D:

    min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))]

D ascends it (is a real/fake classifier: binary cross-entropy with labels 1 and 0). For G the
`minimax` loss descends E_z[log(1 - D(G(z)))] as written; the default `non_saturating` loss instead
descends -E_z[log D(G(z))] (Goodfellow et al. 2014, sec. 3): the same fixed point, but strong
gradients early on, when D rejects every sample and log(1 - D(G(z))) is flat.

Manual optimisation (Goodfellow et al.'s Algorithm 1): every batch updates D once; every
`d_steps`-th batch then also updates G against the updated D.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import torch
import torch.nn.functional as F

from datamodules.description import DataDescription
from zoo.errors import UserError
from zoo.learners.base import Learner
from zoo.loggers import log_figures
from zoo.metrics import sample_quality
from zoo.ranges import Count, Range


class GAN(Learner):
    """Trains a zoo.nets.gan pair. Validation and test score samples against held-out data.

    val/loss is the Fréchet distance between generated and held-out samples (features of a small CNN
    for images, the points themselves in 2-D), or on the ring and grid mixtures 1 - hq * modes / K;
    so the best checkpoint is the one whose samples are closest to the data. The adversarial losses
    themselves say little about sample quality.
    """

    instead = "evaluate.py mode=sample n=64 draws samples from it"

    data_kinds = ("points", "images")
    main_metric = "fd"
    pixel_scaling = "unit"
    # D's step leaves G without gradients (and G's step ends with D's discarded)
    ddp_unused_parameters = True

    @classmethod
    def net_sizes(cls, data: DataDescription) -> dict:
        return {"input_shape": data.input_shape}

    @dataclass(frozen=True)
    class Options(Learner.Options):
        generator_loss: Literal["non_saturating", "minimax"] = "non_saturating"
        d_steps: Count = 1
        eval_samples: Annotated[int, Range(2, 10**6)] = 2500
        feature_epochs: Count = 10
        fid: bool = False

    def start(self) -> None:
        tricks = {"ema": self.ema, "bias_lr_scale": self.bias_lr_scale, "bias_decay": self.bias_decay}
        changed = [f"model.{k}={v}" for k, v in tricks.items() if v != vars(Learner.Options())[k]]
        if changed:  # two optimisers stepped by hand, each over one network's parameters whole
            raise UserError(
                f"{changed[0]} is not offered for the GANs, whose two optimisers are stepped by hand; leave it out"
            )
        data = self.data
        self.automatic_optimization = False
        self.num_classes = data.num_classes
        self.images = data.kind == "images"
        self.modes = None if data.modes is None else torch.tensor(data.modes)
        self.mode_std = data.mode_std
        # tanh generators (DCGAN) emit [-1, 1]; the data's pixels are in [0, 1]
        self.tanh = self.images and self.net.output_activation == "tanh"
        self._features = None  # image -> Fréchet features; refitted from the seed, not saved
        self._held_out: list[torch.Tensor] = []

    def to_net(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 - 1 if self.tanh else x

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        return (x + 1) / 2 if self.tanh else x

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """n samples in the data's scale, from noise fixed by `seed`."""
        was_training = self.net.training
        self.net.eval()
        generator = torch.Generator(device=self.device).manual_seed(seed)
        out = torch.cat(
            [
                self.to_data(self.net(self.net.noise(len(part), generator, self.device)))
                for part in torch.arange(n).split(1024)
            ]
        )
        self.net.train(was_training)
        return out

    # --- the game ----------------------------------------------------------------------------------
    def configure_optimizers(self):
        optimizers = [
            self.optimizer_factory(self.net.generator.parameters()),
            self.optimizer_factory(self.net.discriminator.parameters()),
        ]
        if self.scheduler_factory is None:
            return optimizers
        return optimizers, [self.scheduler_factory(o) for o in optimizers]

    def training_step(self, batch, batch_idx):
        real = self.to_net(batch[0])
        opt_g, opt_d = self.optimizers()
        n = len(real)
        fake = self.net(self.net.noise(n, device=real.device))

        d_real, d_fake = self.net.discriminator(real), self.net.discriminator(fake.detach())
        d_loss = F.binary_cross_entropy_with_logits(
            d_real, torch.ones_like(d_real)
        ) + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        opt_d.zero_grad()
        self.manual_backward(d_loss)
        opt_d.step()
        self.accumulate(
            "train", n, d_loss=d_loss, d_real=torch.sigmoid(d_real).mean(), d_fake=torch.sigmoid(d_fake).mean()
        )
        loss = d_loss.detach()

        if (batch_idx + 1) % self.d_steps == 0:
            score = self.net.discriminator(fake)  # against the D just updated
            if self.generator_loss == "non_saturating":
                g_loss = F.binary_cross_entropy_with_logits(score, torch.ones_like(score))  # -log D(G(z))
            else:
                g_loss = -F.binary_cross_entropy_with_logits(score, torch.zeros_like(score))  # log(1 - D(G(z)))
            opt_g.zero_grad()
            self.manual_backward(g_loss)
            opt_g.step()
            self.accumulate("train", n, g_loss=g_loss)
            loss = loss + g_loss.detach()
        return loss  # checked for NaN by FiniteLossGuard

    def on_train_epoch_end(self):
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers] if schedulers else []:
            scheduler.step()
        super().on_train_epoch_end()
        if self.trainer.is_global_zero and not self.trainer.sanity_checking:
            epoch = self.trainer.current_epoch
            path = self.save_samples(
                Path(self.trainer.default_root_dir) / "samples" / f"epoch_{epoch:03d}.png", f"epoch {epoch}"
            )
            log_figures(self.loggers, {"samples_by_epoch": path}, self.global_step)

    # --- scoring samples against held-out data ----------------------------------------------------
    def on_fit_start(self):
        self.prepare_features(self.trainer.datamodule)

    def on_test_start(self):
        self.prepare_features(self.trainer.datamodule)

    def prepare_features(self, datamodule) -> None:
        """For images, fit the feature CNN on the training split (deterministic, a few seconds on digits). An
        evaluation calls this where Lightning has turned gradients off (the test), so they are turned on here."""
        if not self.images or self._features is not None:
            return
        with torch.inference_mode(False), torch.enable_grad():
            x, y = datamodule.inputs("train", self.device), datamodule.splits["train"].y.to(self.device)
            net = sample_quality.fit_feature_classifier(x, y, self.num_classes, epochs=self.feature_epochs)
        self._features = lambda images: sample_quality.classifier_features(net, images)

    def _step(self, batch, split: str):
        self._held_out.append(batch[0])

    def _score(self, split: str) -> None:
        real, self._held_out = torch.cat(self._held_out), []
        fake = self.sample(max(self.eval_samples, 2), seed=1)
        features = self._features or (lambda t: t.flatten(1))
        fd = sample_quality.frechet_distance(features(real), features(fake))
        values = {"loss": fd, "fd": fd}
        if self.modes is not None:
            modes, hq = sample_quality.mode_coverage(fake, self.modes.to(fake.device), self.mode_std)
            # A Gaussian fitted to a ring of modes is a blob, so fd cannot see mode collapse or smeared
            # samples; on the mixtures the selection score is the share of samples that miss.
            values |= {"modes": modes, "hq": hq, "loss": 1 - hq * modes / len(self.modes)}
        self.accumulate(split, len(real), **values)

    def on_validation_epoch_end(self):
        self._score("val")
        super().on_validation_epoch_end()

    def on_test_epoch_end(self):
        self._score("test")
        super().on_test_epoch_end()
        if self.fid:
            self.log("test/fid", classic_fid(self, self.trainer.datamodule))

    # --- pictures -----------------------------------------------------------------------------------
    def save_samples(self, path: Path, title: str) -> Path:
        from zoo import plots

        if self.images:
            return plots.sample_grid(self.sample(64), path, title)
        return plots.point_samples(
            self.trainer.datamodule.splits["train"].x, self.sample(self.eval_samples), path, title
        )

    def save_figures(self, out_dir: Path, datamodule) -> list[Path]:
        from zoo import plots

        if self.images:
            paths = [plots.sample_grid(self.sample(64), out_dir / "samples.png", "samples")]
        else:
            fake = self.sample(self.eval_samples)
            title = "samples"
            if self.modes is not None:
                modes, hq = sample_quality.mode_coverage(fake, self.modes.to(fake.device), self.mode_std)
                title = f"{modes}/{len(self.modes)} modes, {hq:.0%} high quality"
            paths = [plots.point_samples(datamodule.splits["train"].x, fake, out_dir / "samples.png", title)]
        if "val/fd" in self.history:
            paths.append(
                plots.curves(
                    self.history,
                    ["val/fd"],
                    out_dir / "frechet_distance.png",
                    ylabel="Fréchet distance to held-out data",
                )
            )
        return paths


def classic_fid(model: GAN, datamodule, n: int = 10000) -> float:
    """FID with Inception features through torch-fidelity (needs the package and its downloaded weights)."""
    try:
        import torch_fidelity
    except ImportError as err:
        raise UserError("model.fid=true needs torch-fidelity: pip install torch-fidelity") from err
    if not model.images:
        raise UserError("model.fid=true measures images; for points the zoo reports the Fréchet distance and modes")

    def as_uint8(images: torch.Tensor) -> torch.Tensor:
        images = (images.clamp(0, 1) * 255).round().to(torch.uint8).cpu()
        return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images

    real = as_uint8(datamodule.inputs("test"))
    fake = as_uint8(model.sample(min(n, len(real)), seed=2))
    try:
        result = torch_fidelity.calculate_metrics(
            input1=ImageSet(fake), input2=ImageSet(real), fid=True, cuda=model.device.type == "cuda", verbose=False
        )
    except (OSError, RuntimeError, ValueError) as err:  # the Inception weights are downloaded on first use
        raise UserError(
            f"torch-fidelity could not compute FID ({str(err).splitlines()[0][:160]}); offline its "
            f"Inception weights cannot be fetched: the zoo's test/fd is the offline stand-in"
        ) from err
    return float(result["frechet_inception_distance"])


class ImageSet(torch.utils.data.Dataset):
    """uint8 images as the Dataset torch-fidelity reads."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]
