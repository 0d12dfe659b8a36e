"""Outlier detection with a flow's likelihood (slide "Why generative models? Outlier detection").

Score every input by its bits per dimension under the model (higher = less like the training data)
and ask how well that separates the in-distribution test split from an outlier set: the area under
the ROC curve (1.0 = every outlier scores worse than every test image, 0.5 = chance, below 0.5 =
the outliers look *more* likely, as Nalisnick et al. 2019 found for flows on some pairs of sets).
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf
from torchmetrics.functional.classification import binary_auroc

from zoo.config import CONFIG_DIR, build_datamodule
from zoo.errors import UserError

DERIVED_SETS = ("noise", "flip", "invert", "heldout")


def check_names(names: list[str], datamodule) -> None:
    """Every outlier set named must exist for this model and data, before any scoring starts."""
    for name in names:
        if name == "heldout" and getattr(datamodule, "classes", None) is None:
            raise UserError(
                "ood=heldout needs a model trained on data=digits with data.classes leaving digits out, "
                "e.g. data.classes=[0,1,2,3,4,5,6,7,8]"
            )
        if name not in DERIVED_SETS and not (CONFIG_DIR / "data" / f"{name}.yaml").is_file():
            presets = sorted(p.stem for p in (CONFIG_DIR / "data").glob("*.yaml"))
            raise UserError(
                f"unknown outlier set {name!r}; choose {', '.join(DERIVED_SETS)} or a data preset "
                f"({', '.join(presets)})"
            )


def outlier_set(name: str, x: torch.Tensor, datamodule, levels: int, paths_cfg, seed: int):
    """The outlier images for one (checked) name: derived from the test split, or another preset's test split."""
    generator = torch.Generator().manual_seed(seed)
    if name == "noise":  # every pixel an independent uniform level
        return torch.randint(levels, x.shape, generator=generator).float() / (levels - 1)
    if name == "flip":  # mirrored left to right: the same strokes, an unfamiliar arrangement
        return x.flip(-1)
    if name == "invert":  # dark strokes on a light ground
        return 1 - x
    if name == "heldout":
        return datamodule.held_out()
    preset = OmegaConf.merge(OmegaConf.load(CONFIG_DIR / "data" / f"{name}.yaml"), {"scaling": "unit"})
    root = OmegaConf.create({"paths": OmegaConf.to_container(paths_cfg, resolve=True), "data": preset})
    other = build_datamodule(root.data)  # the same constructor checks as any data set
    other.prepare_data()
    shape = other.description.input_shape
    if list(shape or []) != list(x.shape[1:]):
        raise UserError(f"outlier set {name} has images of shape {shape}, the model takes {list(x.shape[1:])}")
    return other.inputs("test")


@torch.no_grad()
def scores(model, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    model.eval()
    bpd = torch.cat([model.bits_per_dim(part.to(model.device)).cpu() for part in x.split(batch_size)])
    return torch.nan_to_num(bpd, nan=1e6, posinf=1e6)  # a numerically impossible input is as unlikely as it gets


def auroc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve of scores (higher = outlier) against 0/1 labels.

    torchmetrics reads scores outside [0, 1] as logits and squashes them with a sigmoid, which would
    tie every large score; their ranks (ties kept) carry the same order into [0, 1].
    """
    values, ranks = torch.unique(scores, return_inverse=True)
    return binary_auroc(ranks.double() / max(len(values) - 1, 1), labels).item()


def detect(model, datamodule, names, cfg, out_dir: Path) -> dict:
    """AUROC of the test split against each outlier set; histograms of the scores as a PNG."""
    from zoo import plots

    names = [names] if isinstance(names, str) else list(names)
    check_names(names, datamodule)
    inside = datamodule.inputs("test")
    levels = model.levels or 256
    all_scores = {"test (in distribution)": scores(model, inside)}
    metrics = {}
    for name in names:
        outside = outlier_set(name, inside, datamodule, levels, cfg.paths, cfg.seed)
        s = scores(model, outside)
        all_scores[name] = s
        labels = torch.cat([torch.zeros(len(inside), dtype=torch.long), torch.ones(len(s), dtype=torch.long)])
        metrics[f"ood/{name}/auroc"] = auroc(torch.cat([all_scores["test (in distribution)"], s]), labels)
        metrics[f"ood/{name}/bpd"] = s.mean().item()
    metrics["ood/test/bpd"] = all_scores["test (in distribution)"].mean().item()
    plots.score_histograms(all_scores, out_dir / "ood_histograms.png", xlabel="bits per dimension")
    return metrics
