"""Outlier detection with a flow's likelihood (slide "Why generative models? Outlier detection").

Score every input (higher = less like the training data) and ask how well the score separates the
in-distribution test split from an outlier set: the area under the ROC curve (1.0 = every outlier
scores worse than every test image, 0.5 = chance, below 0.5 = the outliers look *more* likely, as
Nalisnick et al. 2019 found for flows on some pairs of sets). Another data preset and a background flow
come through the `evaluation` the trainer hands the learner (zoo.learners.base.Evaluation), so this module
imports neither the trainer nor the config. The scores (`ood_scores`):

- likelihood: bits per dimension, -log2 p(x) / D.
- complexity (Serra et al. 2020): bits per dimension minus a lossless compressor's code length of the
  image per dimension (DEFLATE, the compressor inside PNG): likelihood corrected for how simple the
  image is.
- ratio (Ren et al. 2019): bits per dimension minus those of a background flow trained on perturbed
  inputs (`model.perturb`, given as `ood_background`): what the model knows beyond low-level statistics.
- typicality (Nalisnick et al. 2019b): for a batch of `ood_batch` inputs, the distance of their mean
  bits per dimension from the mean over the validation split. A test of a batch, not of one input:
  its AUROC is over batches drawn from the test split and from the outlier set.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import torch
from torchmetrics.functional.classification import binary_auroc

from zoo.errors import UserError

DERIVED_SETS = ("noise", "flip", "invert", "heldout")
SCORES = {  # name -> what its histogram's axis shows
    "likelihood": "bits per dimension",
    "complexity": "bits per dimension - DEFLATE bits per dimension",
    "ratio": "bits per dimension - background flow's",
    "typicality": "|batch mean bits per dimension - validation mean|",
}
BATCHES = 1000  # typicality: batches drawn from each side


def check_names(names: list[str], score_names: list[str], datamodule, model, presets: tuple[str, ...]) -> None:
    """Every outlier set and score named must exist for this model and data, before any scoring starts."""
    if not names:
        raise UserError(f"ood names no outlier set; choose from {', '.join(DERIVED_SETS)} or a data preset")
    if not score_names:
        raise UserError(f"ood_scores names no score; choose from {', '.join(SCORES)}")
    for name in score_names:
        if name not in SCORES:
            raise UserError(f"unknown outlier score {name!r}; choose from {', '.join(SCORES)}")
    if "complexity" in score_names and not model.images:
        raise UserError("ood_scores=complexity compresses images; a flow on points has none, leave it out")
    for name in names:
        if name == "heldout" and getattr(datamodule, "classes", None) is None:
            raise UserError(
                "ood=heldout needs a model trained on data=digits with data.classes leaving digits out, "
                "e.g. data.classes=[0,1,2,3,4,5,6,7,8]"
            )
        if name not in DERIVED_SETS and name not in presets:
            raise UserError(
                f"unknown outlier set {name!r}; choose {', '.join(DERIVED_SETS)} or a data preset "
                f"({', '.join(presets)})"
            )


def outlier_set(name: str, x: torch.Tensor, datamodule, levels: int, evaluation) -> torch.Tensor:
    """The outlier images for one (checked) name: derived from the test split, or another preset's test split."""
    generator = torch.Generator().manual_seed(evaluation.seed)
    if name == "noise":  # every pixel an independent uniform level
        return torch.randint(levels, x.shape, generator=generator).float() / (levels - 1)
    if name == "flip":  # mirrored left to right: the same strokes, an unfamiliar arrangement
        return x.flip(-1)
    if name == "invert":  # dark strokes on a light ground
        return 1 - x
    if name == "heldout":
        return datamodule.held_out()
    other = evaluation.data_preset(name, "unit")  # pixels in [0, 1], as the flow saw its own
    shape = other.description.input_shape
    if list(shape or []) != list(x.shape[1:]):
        raise UserError(f"outlier set {name} has images of shape {shape}, the model takes {list(x.shape[1:])}")
    return other.inputs("test")


@torch.no_grad()
def bits_per_dim(model, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    model.eval()
    bpd = torch.cat([model.bits_per_dim(part.to(model.device)).cpu() for part in x.split(batch_size)])
    return torch.nan_to_num(bpd, nan=1e6, posinf=1e6)  # a numerically impossible input is as unlikely as it gets


def compressed_bits_per_dim(x: torch.Tensor, levels: int) -> torch.Tensor:
    """DEFLATE's code length of each image's grey levels, in bits per dimension."""
    pixels = (x.flatten(1) * (levels - 1)).round().clamp(0, 255).to(torch.uint8).numpy()
    return torch.tensor([8 * len(zlib.compress(row.tobytes(), 9)) for row in pixels]) / pixels.shape[1]


def background_flow(path, model, evaluation):
    """The flow of `ood_background`, trained on the same data description as the model."""
    if not path:
        raise UserError(
            "ood_scores=ratio needs ood_background=<checkpoint of a flow trained on the same data with "
            "model.perturb, e.g. 0.2>"
        )
    background = evaluation.load_model(path)
    if not hasattr(background, "bits_per_dim"):
        raise UserError(f"ood_background={path} holds a {type(background).__name__}, not a flow (model=realnvp)")
    differences = model.data.differences(background.data)
    if differences:
        raise UserError(f"ood_background={path} was trained on other data: {'; '.join(differences)}")
    return background.to(model.device)


def typical_batches(bpd: torch.Tensor, typical: float, size: int, generator) -> torch.Tensor:
    """|mean bits per dimension - typical| of BATCHES batches of `size` drawn with replacement."""
    index = torch.randint(len(bpd), (BATCHES, size), generator=generator)
    return (bpd[index].mean(1) - typical).abs()


def auroc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve of scores (higher = outlier) against 0/1 labels.

    torchmetrics reads scores outside [0, 1] as logits and squashes them with a sigmoid, which would
    tie every large score; their ranks (ties kept) carry the same order into [0, 1].
    """
    values, ranks = torch.unique(scores, return_inverse=True)
    return binary_auroc(ranks.double() / max(len(values) - 1, 1), labels).item()


def detect(model, datamodule, out_dir: Path, evaluation, names: list[str], score_names, background,
           batch: int) -> dict:  # fmt: skip
    """AUROC of the test split against each outlier set under each score; their histograms as a PNG.

    `score_names` None: every score that needs nothing more than the flow."""
    from zoo import plots

    if score_names is None:
        score_names = ["likelihood", "complexity", "typicality"] if model.images else ["likelihood", "typicality"]
    check_names(names, score_names, datamodule, model, evaluation.data_presets)
    background = background_flow(background, model, evaluation) if "ratio" in score_names else None
    levels = model.levels or 256
    typical = bits_per_dim(model, datamodule.inputs("val")).mean().item()
    generator = torch.Generator().manual_seed(evaluation.seed)

    def score_all(x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        bpd = bits_per_dim(model, x)
        out = {}
        for name in score_names:
            if name == "typicality":
                out[name] = typical_batches(bpd, typical, batch, generator)
            elif name == "complexity":
                out[name] = bpd - compressed_bits_per_dim(x, levels)
            elif name == "ratio":
                out[name] = bpd - bits_per_dim(background, x)
            else:
                out[name] = bpd
        return bpd, out

    inside = datamodule.inputs("test")
    bpd_in, scores_in = score_all(inside)
    shown = {score: {"test (in distribution)": s} for score, s in scores_in.items()}
    metrics = {"ood/test/bpd": bpd_in.mean().item()}
    for name in names:
        outside = outlier_set(name, inside, datamodule, levels, evaluation)
        bpd_out, scores_out = score_all(outside)
        metrics[f"ood/{name}/bpd"] = bpd_out.mean().item()
        for score, s in scores_out.items():
            s_in = scores_in[score]
            labels = torch.cat([torch.zeros(len(s_in), dtype=torch.long), torch.ones(len(s), dtype=torch.long)])
            metrics[f"ood/{name}/auroc_{score}"] = auroc(torch.cat([s_in, s]), labels)
            shown[score][name] = s
    titles = {score: SCORES[score] for score in shown}
    if "typicality" in titles:
        titles["typicality"] += f", batches of {batch}"
    plots.score_histograms({titles[score]: sets for score, sets in shown.items()}, out_dir / "ood_histograms.png")
    return metrics
