"""Supervised classification: perceptron, MLP, CNN, ResNet, ODENet.

Slide "Loss Optimization": W* = argmin_W (1/n) sum_i L(f(x_i; W), y_i), here with L the
cross-entropy of the softmax of the network's class scores.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from zoo.learner import Learner


class Classifier(Learner):
    """Cross-entropy training of any net that maps a batch of inputs to `num_classes` scores."""

    def __init__(self, net, num_classes: int, optimizer, scheduler=None, scheduler_interval: str = "epoch"):
        super().__init__(net, optimizer, scheduler, scheduler_interval)
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _step(self, batch, split: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.accumulate(split, len(y), loss=loss, acc=(logits.argmax(1) == y).float().mean())
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

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
        if list(datamodule.info["input_shape"]) == [2]:
            train = datamodule.splits["train"]
            paths.append(plots.decision_boundary(self, train.x, train.y, out_dir / "decision_boundary.png"))
        return paths
