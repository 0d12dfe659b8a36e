"""Supervised classification: perceptron, MLP, CNN, ResNet, ODENet (and, for a numeric target, regression).

Slide "Loss Optimization": W* = argmin_W (1/n) sum_i L(f(x_i; W), y_i), here with L the
cross-entropy of the softmax of the network's class scores.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from datamodules.description import DataDescription
from zoo.errors import UserError
from zoo.learners.base import Learner
from zoo.learners.supervised import SupervisedOptions


def class_rows(probabilities: torch.Tensor, names: list[str] | None, top_k: int) -> list[dict]:
    """Per input: the most likely class, its probability, and the top k classes with theirs ([(name, p), ...])."""
    names = names or [str(i) for i in range(probabilities.shape[1])]
    values, indices = probabilities.topk(min(top_k, probabilities.shape[1]), 1)
    return [
        {
            "predicted": names[i[0]],
            "probability": round(float(p[0]), 4),
            "top_k": [(names[j], round(float(q), 4)) for q, j in zip(p, i)],
        }
        for p, i in zip(values, indices)
    ]


def views(x: torch.Tensor, augment: str) -> list[torch.Tensor]:
    """The views of a batch of images that test-time augmentation averages over: the images and their mirror
    images ("flip"), and with "flip_shift" also both shifted by one pixel down-right and up-left (zero filled)."""
    shown = [x, x.flip(-1)]
    if augment == "flip_shift":
        for dy, dx in ((1, 1), (-1, -1)):
            shifted = torch.nn.functional.pad(x, (1, 1, 1, 1))[
                ..., 1 - dy : 1 - dy + x.shape[-2], 1 - dx : 1 - dx + x.shape[-1]
            ]
            shown += [shifted, shifted.flip(-1)]
    return shown


class TestTimeAugmented(torch.nn.Module):
    """A net whose scores are the mean of its scores over the views of each image (what an exported model runs)."""

    def __init__(self, net: torch.nn.Module, augment: str):
        super().__init__()
        self.net, self.augment = net, augment

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.net(view) for view in views(x, self.augment)]).mean(0)


class Classifier(Learner):
    """Cross-entropy training of any net that maps a batch of inputs to `num_classes` scores.

    Options: `label_smoothing` (the training targets put that share of their mass evenly on all classes, Szegedy
    et al. 2016; validation and test losses stay the plain cross-entropy), `test_time_augment` (evaluation and
    prediction score each image as the mean of the net's scores over its views: none | flip | flip_shift).
    """

    data_kinds = ("points", "images", "rows")
    main_metric = "acc"

    Options = SupervisedOptions

    @classmethod
    def net_sizes(cls, data: DataDescription) -> dict:
        return {"input_shape": data.input_shape, "num_classes": data.num_classes}

    @classmethod
    def learner_for(cls, data: DataDescription) -> type[Learner]:
        """A table whose target is a number is a regression task: the supervised learner for it."""
        if data.task == "regression":
            from zoo.learners.regress import Regressor

            return Regressor
        return cls

    @classmethod
    def check_data(cls, model_name: str, data: DataDescription, data_name: str) -> None:
        super().check_data(model_name, data, data_name)
        present = data.num_classes if data.labels_present is None else len(data.labels_present)
        if present is not None and present < 2:
            raise UserError(
                f"model {model_name} tells classes apart, but data={data_name} holds one class only "
                f"({data.label_names or data.labels_present or data.num_classes}); keep at least two (a folder or a "
                f"value of the target per class; for digits e.g. data.classes=[3,8])"
            )

    def start(self) -> None:
        self.num_classes = self.data.num_classes
        self.counts_nfe = hasattr(self.net, "nfe")  # nets that solve an ODE count their function evaluations
        if self.test_time_augment != "none" and self.data.kind != "images":
            raise UserError(
                f"model.test_time_augment={self.test_time_augment} mirrors and shifts images, and this data holds "
                f"{self.data.kind}; use model.test_time_augment=none"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or self.test_time_augment == "none":
            return self.net(x)
        return TestTimeAugmented(self.net, self.test_time_augment)(x)

    def _step(self, batch, split: str) -> torch.Tensor:
        x, y = batch
        if self.counts_nfe:
            self.net.nfe = 0
        logits = self(x)
        loss = F.cross_entropy(logits, y, label_smoothing=self.label_smoothing if split == "train" else 0.0)
        self.accumulate(split, len(y), loss=loss, acc=(logits.argmax(1) == y).float().mean())
        if self.counts_nfe:
            self.accumulate(split, len(y), nfe_forward=self.net.nfe)
            self.net.nfe = 0
        return loss

    def on_after_backward(self):
        if self.counts_nfe:  # with the adjoint method, the backward pass solves an ODE too
            self.accumulate("train", 1, nfe_backward=self.net.nfe)

    @torch.no_grad()
    def predict_inputs(self, x: list[torch.Tensor], top_k: int = 5) -> list[dict]:
        self.eval()
        batches = torch.stack(x).split(256)
        probabilities = torch.cat([torch.softmax(self(part.to(self.device)), 1).cpu() for part in batches])
        return class_rows(probabilities, self.data.label_names, top_k)

    def exportable(self) -> tuple[torch.nn.Module, torch.Tensor]:
        if any(getattr(module, "adaptive", False) for module in self.net.modules()):
            raise UserError(
                "the ODENet's adaptive solver takes as many steps as each input needs, which an exported graph cannot "
                "hold; use mode=predict or zoo.load() with the checkpoint instead"
            )
        net = self.net if self.test_time_augment == "none" else TestTimeAugmented(self.net, self.test_time_augment)
        return net, torch.zeros(2, *self.data.input_shape)

    @torch.no_grad()
    def predict_split(self, datamodule, split: str = "test") -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted and true labels for a whole split (on the module's device)."""
        self.eval()
        preds, targets = [], []
        loader = getattr(datamodule, f"{split}_dataloader")()
        for batch in loader:
            batch = datamodule.on_after_batch_transfer([t.to(self.device) for t in batch], 0)
            preds.append(self(batch[0]).argmax(1).cpu())
            targets.append(batch[1].cpu())
        return torch.cat(preds), torch.cat(targets)

    def save_figures(self, out_dir: Path, datamodule) -> list[Path]:
        from zoo import plots

        preds, targets = self.predict_split(datamodule)
        paths = [plots.confusion_matrix(preds, targets, self.num_classes, out_dir / "confusion_matrix.png")]
        first_conv = next((m for m in self.net.modules() if isinstance(m, torch.nn.Conv2d)), None)
        if first_conv is not None:
            paths.append(plots.filters(first_conv.weight, out_dir / "first_layer_filters.png"))
        if "train/nfe_forward" in self.history:
            paths.append(
                plots.curves(
                    self.history,
                    ["train/nfe_forward", "train/nfe_backward"],
                    out_dir / "nfe.png",
                    ylabel="function evaluations per batch",
                )
            )
        if self.data.kind == "points":
            train = datamodule.splits["train"]
            paths.append(plots.decision_boundary(self, train.x, train.y, out_dir / "decision_boundary.png"))
        return paths
