"""Semantic segmentation: a class for every pixel (slide "Beyond Classification").

The loss is the cross-entropy of the classifier's, a weighted mean over pixels instead of images; the
test reports the pixel accuracy and the mean over classes of the intersection over union,
IoU_c = |predicted c ∩ true c| / |predicted c ∪ true c| (torchmetrics).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

from zoo.learners.base import Learner
from zoo.ranges import Positive


class Segmenter(Learner):
    """Per-pixel cross-entropy of a net mapping images to (N, classes + 1, H, W) scores (0 = background).

    Background pixels weigh `background_weight` in the loss: most pixels are background, and at full
    weight the net first learns to call every pixel background (`make section-beyond`).
    A weighted cross-entropy learns scores of w_c p(c | x), so the predicted class is the argmax of
    the scores minus log w_c (logit adjustment, Menon et al. 2021), the class of largest p(c | x).
    """

    data_kinds = ("scenes",)
    main_metric = "miou"

    @classmethod
    def net_sizes(cls, data) -> dict:
        return {"input_shape": data.input_shape, "num_classes": data.num_classes}

    @dataclass(frozen=True)
    class Options(Learner.Options):
        background_weight: Positive = 0.1

    def start(self) -> None:
        classes = self.data.num_classes + 1
        weights = torch.ones(classes)
        weights[0] = self.background_weight
        self.register_buffer("class_weights", weights, persistent=False)
        self.iou = MulticlassJaccardIndex(classes, average="macro")
        self.pixel_acc = MulticlassAccuracy(classes, average="micro")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _step(self, batch, split: str) -> torch.Tensor:
        x, targets = batch
        mask = targets["mask"].long()
        scores = self(x)
        loss = F.cross_entropy(scores, mask, weight=self.class_weights)
        self.accumulate(split, len(x), loss=loss)
        if split != "train":
            predicted = self.predict(scores)
            self.iou.update(predicted, mask)
            self.pixel_acc.update(predicted, mask)
        return loss

    def predict(self, scores: torch.Tensor) -> torch.Tensor:
        """The class of each pixel: argmax over classes of the scores less log w_c."""
        return (scores - self.class_weights.log()[:, None, None]).argmax(1)

    def _log_overlap(self, split: str) -> None:
        self.log_epoch(split, {"miou": float(self.iou.compute()), "pixel_acc": float(self.pixel_acc.compute())})
        self.iou.reset()
        self.pixel_acc.reset()

    def on_validation_epoch_end(self):
        super().on_validation_epoch_end()
        self._log_overlap("val")

    def on_test_epoch_end(self):
        super().on_test_epoch_end()
        self._log_overlap("test")

    def save_figures(self, out_dir: Path, datamodule) -> list[Path]:
        from zoo import plots

        self.eval()
        images = datamodule.inputs("test")[:8]
        with torch.no_grad():
            masks = self.predict(self(images.to(self.device))).cpu()
        return [plots.segmentation_overlay(images, masks, out_dir / "segmentation.png")]
