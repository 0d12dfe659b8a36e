"""Object detection: every object's box and class (slide "Beyond Classification").

Training follows CenterNet (Zhou et al. 2019): the target heat map of class c holds, around the
centre cell of each object of class c, a Gaussian exp(-d^2 / 2 sigma^2) with its peak 1 at the
centre; the heat maps learn under the focal loss
  L_heat = -(1/#objects) sum_cells { (1 - p)^2 log p                   at a centre,
                                     (1 - y)^4 p^2 log(1 - p)          elsewhere },
and the size and centre offset under L1 at the centre cells. The test reports the mean average
precision of the boxes (torchmetrics): test/map50 at IoU 0.5, test/map averaged over IoU 0.5:0.95.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torchmetrics.detection import MeanAveragePrecision
from torchvision.ops import batched_nms

from zoo.learners.base import Learner
from zoo.ranges import Count, Positive, Probability

SIZE_WEIGHT = 0.1  # CenterNet's weight of the size loss (sizes are in pixels, offsets in cells)
SHOWN_SCORE = 0.3  # the pictures draw boxes scored at least this (mAP uses every box above min_score)


class Detector(Learner):
    """Trains a net returning `heat`, `size` and `offset` maps (zoo.nets.detector.CentreNet)."""

    data_kinds = ("scenes",)
    main_metric = "map50"

    @classmethod
    def net_sizes(cls, data) -> dict:
        return {"input_shape": data.input_shape, "num_classes": data.num_classes}

    @dataclass(frozen=True)
    class Options(Learner.Options):
        sigma: Positive = 1.0
        max_detections: Count = 20
        min_score: Probability = 0.05
        nms_iou: Probability = 0.5

    def start(self) -> None:
        self.map = MeanAveragePrecision(box_format="xyxy", iou_type="bbox")

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net(x)

    def targets(self, boxes: torch.Tensor, labels: torch.Tensor, shape) -> tuple[torch.Tensor, ...]:
        """Heat maps (N, classes, h, w), and for each object its centre cell (N, K, 2), size and offset."""
        n, classes, h, w = shape
        centre = (boxes[..., :2] + boxes[..., 2:]) / 2 / self.net.stride
        cell = centre.floor().clamp(min=0)
        cell = torch.minimum(cell, torch.tensor([w - 1, h - 1], device=cell.device))
        gx = torch.arange(w, device=boxes.device).view(1, 1, 1, w)
        gy = torch.arange(h, device=boxes.device).view(1, 1, h, 1)
        d2 = (gx - cell[..., 0, None, None]) ** 2 + (gy - cell[..., 1, None, None]) ** 2
        gauss = torch.exp(-d2 / (2 * self.sigma**2)) * (labels >= 0)[..., None, None]  # (N, K, h, w)
        one_hot = F.one_hot(labels.clamp(min=0), classes).float() * (labels >= 0)[..., None]  # (N, K, classes)
        heat = (gauss[:, :, None] * one_hot[..., None, None]).amax(1)
        return heat, cell.long(), boxes[..., 2:] - boxes[..., :2], centre - cell

    def losses(self, out: dict, boxes: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        heat_target, cell, size, offset = self.targets(boxes, labels, out["heat"].shape)
        p = torch.sigmoid(out["heat"]).clamp(1e-4, 1 - 1e-4)
        centres = heat_target == 1
        objects = (labels >= 0).sum().clamp(min=1)
        focal = torch.where(
            centres, (1 - p) ** 2 * torch.log(p), (1 - heat_target) ** 4 * p**2 * torch.log(1 - p)
        ).sum()
        valid = labels >= 0
        n_index = torch.arange(len(labels), device=labels.device)[:, None].expand_as(labels)[valid]
        i, j = cell[..., 1][valid], cell[..., 0][valid]
        predicted_size = out["size"].permute(0, 2, 3, 1)[n_index, i, j]
        predicted_offset = out["offset"].permute(0, 2, 3, 1)[n_index, i, j]
        size_loss = F.l1_loss(predicted_size, size[valid], reduction="sum") / objects
        offset_loss = F.l1_loss(predicted_offset, offset[valid], reduction="sum") / objects
        return {"heat": -focal / objects, "size": size_loss, "offset": offset_loss}

    def _step(self, batch, split: str) -> torch.Tensor:
        x, targets = batch
        out = self(x)
        parts = self.losses(out, targets["boxes"], targets["labels"])
        loss = parts["heat"] + SIZE_WEIGHT * parts["size"] + parts["offset"]
        self.accumulate(split, len(x), loss=loss, heat_loss=parts["heat"], size_loss=parts["size"])
        if split == "test":
            truth = [{"boxes": b[k >= 0], "labels": k[k >= 0]} for b, k in zip(targets["boxes"], targets["labels"])]
            self.map.update(self.decode(out), truth)
        return loss

    @torch.no_grad()
    def decode(self, out: dict) -> list[dict[str, torch.Tensor]]:
        """Boxes, scores and labels per image: the heat maps' local maxima (3x3), best first, after NMS."""
        heat = torch.sigmoid(out["heat"])
        n, classes, h, w = heat.shape
        peaks = heat * (heat == F.max_pool2d(heat, 3, stride=1, padding=1))
        scores, index = peaks.flatten(1).topk(min(self.max_detections, classes * h * w))
        labels, cells = index // (h * w), index % (h * w)
        i, j = cells // w, cells % w
        found = []
        for b in range(n):
            size = out["size"][b, :, i[b], j[b]].T.clamp(min=1)
            offset = out["offset"][b, :, i[b], j[b]].T
            centre = (torch.stack([j[b], i[b]], 1) + offset) * self.net.stride
            boxes = torch.cat([centre - size / 2, centre + size / 2], 1)
            keep = scores[b] >= self.min_score
            boxes, score, label = boxes[keep], scores[b][keep], labels[b][keep]
            keep = batched_nms(boxes, score, label, self.nms_iou)
            found.append({"boxes": boxes[keep], "scores": score[keep], "labels": label[keep]})
        return found

    def on_test_epoch_end(self):
        super().on_test_epoch_end()
        result = self.map.compute()
        self.log_epoch("test", {"map50": float(result["map_50"]), "map": float(result["map"])})
        self.map.reset()

    def save_figures(self, out_dir: Path, datamodule) -> list[Path]:
        from zoo import plots

        self.eval()
        images = datamodule.inputs("test")[:8]
        found = self.decode(self(images.to(self.device)))
        shown = [{k: v[f["scores"] >= SHOWN_SCORE].cpu() for k, v in f.items()} for f in found]
        return [plots.detections(images, shown, out_dir / "detections.png")]
