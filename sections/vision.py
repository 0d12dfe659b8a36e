"""Section "Tasks in Computer Vision" to "Pooling": what a CNN is invariant to, and what hand-made features are not.

- "Problems in Manual Feature Extraction": viewpoint, scale, deformation, occlusion, illumination, background
  clutter, intra-class variation. One harness: test accuracy of hand-made features (HOG) + an SVM, an MLP, a
  CNN without pooling, a CNN with max pooling, and the same CNN trained with shifted copies (augmentation),
  as each transform grows (sections/transforms.py).
- "Fully Connected: no spatial information!": one fixed scramble of the pixels, in training and test alike.
- "Pooling: 2) spatial invariance": how alike the conv features of an image and its 1-pixel shift are.
- "Learning Feature Representations": a linear probe after each layer; how edge-like the first filters are.
- "Features of X": generated X and O glyphs, shifted, shrunk, rotated, deformed, told apart by the slide's
  three filters with pooling against whole-image template matching ("computers are literal").
- "Producing Feature Maps: different filters have different effects": edge, sharpen and blur on a photo.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from sections.common import Report, band, mean
from sections.features import grey, hog
from sections.transforms import LEVELS, TRANSFORMS, affine, deformed, warp
from zoo import plots
from zoo.nets.cnn import SLIDE_X_FILTERS

MODELS = {  # label -> overrides (augmentation off unless it is the point)
    "MLP": ["model=mlp", "data.augment=false"],
    "CNN, no pooling": ["model=cnn", "model.pool=none", "data.augment=false"],
    "CNN, max pooling": ["model=cnn", "data.augment=false"],
    "CNN, max pooling, shifted copies": ["model=cnn", "data.augment=true"],
}
HAND = "HOG + SVM"
SLUG = dict(zip(TRANSFORMS, ["shift", "scale", "rotation", "shear", "elastic", "occlusion", "gamma", "contrast",
                             "gradient", "clutter"]))  # fmt: skip
LEARNED = "CNN, max pooling"  # the verdicts' learned model: trained on the same images as the hand-made one
FILTERS_SHOWN = "CNN_max_pooling"  # the runs (of LEARNED) whose first-layer filters the report shows; others draw none


class Trained:
    """One seed's models, each a function from standardised images to predicted classes."""

    def __init__(self, report: Report, seed: int, epochs: int, extra: list[str] = ()):
        from sklearn.svm import SVC

        self.nets, self.predict = {}, {}
        for label, overrides in MODELS.items():
            tag = label.replace(", ", "_").replace(" ", "_")
            folder = report.runs() / f"{tag}_{seed}{'_'.join(extra)}"
            run = report.fit([*overrides, *extra, f"seed={seed}", f"trainer.max_epochs={epochs}"], folder,
                             figures=tag == FILTERS_SHOWN)  # fmt: skip
            net = run.model.net.eval()
            self.nets[label], self.data = net, run.datamodule.splits
            self.predict[label] = lambda x, net=net: net(x).argmax(1)
        x, y = self.data["train"].x, self.data["train"].y
        svm = SVC().fit(hog(grey(x)), y.numpy())
        self.predict[HAND] = lambda x: torch.as_tensor(svm.predict(hog(grey(x))))
        self.low, self.high = float(x.min()), float(x.max())  # the values of intensity 0 and 16

    @torch.no_grad()
    def accuracy(self, label: str, x: torch.Tensor, y: torch.Tensor) -> float:
        return float((self.predict[label](x) == y).float().mean())


def over_levels(by_level: list[list[float]], levels=range(1, LEVELS + 1)) -> list[float]:
    """Per seed, the mean accuracy over the given severities (by_level[level][seed])."""
    return [mean(by_level[level][i] for level in levels) for i in range(len(by_level[0]))]


def robustness(report: Report, seeds: dict[int, Trained]) -> None:
    # acc[transform][model][level] -> accuracies over seeds
    acc: dict = {t: {m: [[] for _ in range(LEVELS + 1)] for m in [HAND, *MODELS]} for t in TRANSFORMS}
    for seed, trained in seeds.items():
        x, y = trained.data["test"].x, trained.data["test"].y
        for t, transform in TRANSFORMS.items():
            for level in range(LEVELS + 1):
                g = torch.Generator().manual_seed(seed * 100 + level)
                changed = x if level == 0 else transform(x, level, trained.low, trained.high, g)
                for model in acc[t]:
                    acc[t][model][level].append(trained.accuracy(model, changed, y))
    report.text(
        "## Accuracy as each change grows",
        "Test digits changed at severity 0 (as they are) to 4 (see `sections/transforms.py` for each step), "
        f"mean test accuracy over seeds {', '.join(map(str, report.seeds))}. The verdicts compare the mean over "
        f"severities 1-4 of hand-made features ({HAND}) with the CNN trained on the same, unchanged images "
        f"({LEARNED}).",
    )
    rows = []
    for t, by in acc.items():
        rows += [[t, m, *(f"{mean(v):.3f}" for v in levels)] for m, levels in by.items()]
    report.table(["change", "model", *(f"severity {level}" for level in range(LEVELS + 1))], rows)
    fig, axes = plots.figure(2, 5, figsize=(16, 6.5), squeeze=False)
    for ax, (t, by) in zip(axes.flat, acc.items()):
        for m, levels in by.items():
            ax.plot(range(LEVELS + 1), [mean(v) for v in levels], marker=".", label=m)
        ax.set(title=t, xlabel="severity", ylim=(0, 1))
    axes.flat[0].legend(fontsize=6)
    report.image(plots.save_figure(fig, report.scratch("robustness.png")), "test accuracy as each change grows")
    picture_changes(report, next(iter(seeds.values())))
    for t, by in acc.items():
        hand, learned = over_levels(by[HAND]), over_levels(by[LEARNED])
        report.verdict(
            f"hand-made features fail under {t} where learned ones hold up (the CNN's mean accuracy over "
            "severities 1-4 is higher than HOG + SVM's)",
            mean(learned) > mean(hand),
            f"CNN {band(learned)}, HOG + SVM {band(hand)}",
            key=f"hand_vs_learned_{SLUG[t]}",
        )
    shift = acc["shift (viewpoint)"]
    pooled, flat = over_levels(shift[LEARNED]), over_levels(shift["CNN, no pooling"])
    augmented, plain = (over_levels(shift[m], (1, 2)) for m in ("CNN, max pooling, shifted copies", LEARNED))
    report.verdict(
        "pooling makes a CNN more tolerant of shifts (max pooling's mean accuracy over shifts of 1-4 pixels is "
        "higher than the same CNN's without pooling)",
        mean(pooled) > mean(flat),
        f"max pooling {band(pooled)}, no pooling {band(flat)}",
        key="pooling_shift_accuracy",
    )
    report.verdict(
        "training on shifted copies teaches what the architecture does not (accuracy under shifts of 1-2 "
        "pixels is higher with augmentation)",
        mean(augmented) > mean(plain),
        f"with shifted copies {band(augmented)}, without {band(plain)}",
        key="augmentation_shift",
    )


def picture_changes(report: Report, trained: Trained) -> None:
    x = trained.data["test"].x[:1].expand(LEVELS + 1, -1, -1, -1)
    fig, axes = plots.figure(len(TRANSFORMS), LEVELS + 1, figsize=(6, 12), squeeze=False)
    for row, (t, transform) in enumerate(TRANSFORMS.items()):
        for level in range(LEVELS + 1):
            g = torch.Generator().manual_seed(level)
            img = x[:1] if level == 0 else transform(x[:1], level, trained.low, trained.high, g)
            axes[row, level].imshow(img[0, 0], cmap="gray", vmin=trained.low, vmax=trained.high)
            axes[row, level].axis("off")
        axes[row, 0].set_title(t, fontsize=7, loc="left")
    report.image(
        plots.save_figure(fig, report.scratch("changes.png")), "one test digit under each change, severity 0-4"
    )


def intra_class(report: Report, seeds: dict[int, Trained]) -> None:
    """The test digits farthest from their class's mean training image: the class's unusual members."""
    far = {m: [] for m in [HAND, *MODELS]}
    for trained in seeds.values():
        train, test = trained.data["train"], trained.data["test"]
        centres = torch.stack([train.x[train.y == c].mean(0) for c in range(10)])
        distance = (test.x - centres[test.y]).flatten(1).norm(dim=1)
        chosen = distance >= distance.quantile(2 / 3)
        for m in far:
            far[m].append(trained.accuracy(m, test.x[chosen], test.y[chosen]))
    report.text(
        "## Intra-class variation",
        "Accuracy on the third of the test digits farthest (in pixels) from their class's mean training image.",
    )
    report.table(["model", "accuracy on the unusual third"], [[m, band(v)] for m, v in far.items()])
    report.verdict(
        "hand-made features fail on a class's unusual members where learned ones hold up (the CNN is more "
        "accurate than HOG + SVM on the farthest third)",
        mean(far[LEARNED]) > mean(far[HAND]),
        f"CNN {band(far[LEARNED])}, HOG + SVM {band(far[HAND])}",
        key="intra_class",
    )


def no_spatial_information(report: Report, epochs: int, seeds: dict[int, Trained]) -> None:
    """The same nets trained and tested on digits whose pixels are scrambled by one fixed permutation."""
    results = {m: {"as drawn": [], "pixels scrambled": []} for m in ("MLP", LEARNED)}
    for seed, trained in seeds.items():
        for m in results:
            x, y = trained.data["test"].x, trained.data["test"].y
            results[m]["as drawn"].append(trained.accuracy(m, x, y))
            run = report.fit([*MODELS[m], "data.permute_pixels=true", f"seed={seed}", f"trainer.max_epochs={epochs}"],
                             report.runs() / f"scrambled_{m.split(',')[0]}_{seed}", figures=False)  # fmt: skip
            results[m]["pixels scrambled"].append(run.metrics["test/acc"])
    report.text(
        "## Fully connected: no spatial information",
        "`data.permute_pixels=true`: every image's 64 pixels in one fixed scrambled order, the same in training "
        "and test. A fully connected layer has no notion of which pixels are neighbours, so the order should "
        "not matter to it; a convolution looks at neighbours, so it should.",
    )
    report.table(["model", "as drawn", "pixels scrambled"], [[m, band(r["as drawn"]), band(r["pixels scrambled"])]
                                                              for m, r in results.items()])  # fmt: skip
    change = {m: mean(r["pixels scrambled"]) - mean(r["as drawn"]) for m, r in results.items()}
    report.verdict(
        "a fully connected net uses no spatial information (scrambling the pixels changes the MLP's accuracy "
        "by at most 0.01) while a CNN does (it loses 0.02 or more)",
        abs(change["MLP"]) <= 0.01 and change[LEARNED] <= -0.02,
        f"MLP {change['MLP']:+.4f}, CNN {change[LEARNED]:+.4f} (means over {len(seeds)} seeds)",
        key="no_spatial_information",
    )


@torch.no_grad()
def pooling_invariance(report: Report, seeds: dict[int, Trained]) -> None:
    """Cosine similarity of the conv features of an image and of its copy moved by 1 or 2 pixels."""
    similar = {m: {1: [], 2: []} for m in ("CNN, no pooling", LEARNED)}
    for seed, trained in seeds.items():
        x = trained.data["test"].x
        for pixels in (1, 2):
            g = torch.Generator().manual_seed(seed)
            moved = TRANSFORMS["shift (viewpoint)"](x, pixels, trained.low, trained.high, g)
            for m in similar:
                net = trained.nets[m]
                a, b = net.features(x).flatten(1), net.features(moved).flatten(1)
                similar[m][pixels].append(float(F.cosine_similarity(a, b).mean()))
    report.text(
        "## Pooling and spatial invariance",
        "How alike the conv features (the output of the conv blocks) of a test digit and of its copy moved "
        "by 1 or 2 pixels are: mean cosine similarity, the same net trained with and without max pooling.",
    )
    report.table(["net", "moved 1 pixel", "moved 2 pixels"], [[m, band(s[1]), band(s[2])] for m, s in similar.items()])
    pooled, flat = similar[LEARNED][1], similar["CNN, no pooling"][1]
    report.verdict(
        "pooling gives spatial invariance (the features of a digit moved by 1 pixel stay more alike with max "
        "pooling than without)",
        mean(pooled) > mean(flat),
        f"cosine similarity with pooling {band(pooled)}, without {band(flat)}",
        key="pooling_invariance",
    )


EDGES = torch.tensor(  # oriented derivative filters: a 3x3 edge in 4 directions (their negatives via |cos|)
    [[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
     [[-2, -1, 0], [-1, 0, 1], [0, 1, 2]], [[0, 1, 2], [-1, 0, 1], [-2, -1, 0]]], dtype=torch.float32,
)  # fmt: skip


def edge_likeness(filters: torch.Tensor) -> float:
    """Mean over 3x3 filters of the largest |cosine| between the filter (its mean removed) and an edge."""
    f = filters.reshape(len(filters), -1)
    f = f - f.mean(1, keepdim=True)
    cos = F.normalize(f, dim=1) @ F.normalize(EDGES.reshape(4, -1), dim=1).T
    return float(cos.abs().amax(1).mean())


@torch.no_grad()
def hierarchy(report: Report, seeds: dict[int, Trained]) -> None:
    from sklearn.linear_model import LogisticRegression

    layers = ["pixels", "conv block 1", "conv block 2", "fully connected"]
    probes, edges, random_edges = {k: [] for k in layers}, [], []
    for seed, trained in seeds.items():
        net, splits = trained.nets[LEARNED], trained.data

        def outputs(x, net=net):
            first = net.features[0](x)
            second = net.features[1](first)
            hidden = net.head[:4](second)  # flatten, dropout, linear, ReLU
            return {"pixels": x, "conv block 1": first, "conv block 2": second, "fully connected": hidden}

        train, test = outputs(splits["train"].x), outputs(splits["test"].x)
        for k in layers:
            model = LogisticRegression(max_iter=3000).fit(train[k].flatten(1).numpy(), splits["train"].y.numpy())
            probes[k].append(model.score(test[k].flatten(1).numpy(), splits["test"].y.numpy()))
        edges.append(edge_likeness(net.features[0][0].weight[:, 0]))
        torch.manual_seed(seed)
        random_edges.append(edge_likeness(torch.nn.Conv2d(1, len(net.features[0][0].weight), 3).weight[:, 0]))
    report.text(
        "## A hierarchy of features",
        "A linear probe (logistic regression) on the output of each layer of the CNN: how much of the class a "
        "linear read-out finds there. And how edge-like the first layer's 3x3 filters are: the largest "
        "|cosine| of each filter with an oriented edge filter (Sobel's, in 4 directions), averaged, against "
        "filters at their random initialisation.",
    )
    report.table(["layer", "linear probe test accuracy"], [[k, band(v)] for k, v in probes.items()])
    report.table(
        ["first-layer filters", "edge-likeness"], [["trained", band(edges)], ["at initialisation", band(random_edges)]]
    )
    shown = next(report.runs().glob(f"{FILTERS_SHOWN}_*/first_layer_filters.png"))
    report.image(shown, "the CNN's first-layer filters")
    means = [mean(probes[k]) for k in layers[1:]]
    report.verdict(
        "the layers build a hierarchy (a linear probe reads the class better after each layer than after the one "
        "before it)",
        all(a < b for a, b in zip(means, means[1:])),
        ", ".join(f"{k} {band(probes[k])}" for k in layers),
        key="hierarchy",
    )
    report.verdict(
        "the first layer learns edge detectors (its filters are more edge-like than at initialisation, by 0.05 "
        "or more)",
        mean(edges) >= mean(random_edges) + 0.05,
        f"trained {band(edges)}, at initialisation {band(random_edges)}",
        key="edge_filters",
    )


def glyphs(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n X's and n O's on 9x9 (+1 stroke, -1 background, as the slide draws them)."""
    x = -torch.ones(9, 9)
    for i in range(1, 8):
        x[i, i] = x[i, 8 - i] = 1
    ys, xs = torch.meshgrid(torch.arange(9.0), torch.arange(9.0), indexing="ij")
    radius = ((ys - 4) ** 2 + (xs - 4) ** 2).sqrt()
    o = torch.where((radius > 2.5) & (radius < 3.7), 1.0, -1.0)
    images = torch.cat([x.expand(n, 1, 9, 9), o.expand(n, 1, 9, 9)])
    return images.clone(), torch.cat([torch.zeros(n), torch.ones(n)]).long()


GLYPH_CHANGES = {  # the slide's "shifted, shrunk, rotated, deformed", each at a random strength
    "shifted": lambda x, g: warp(x, affine(len(x), shift=(torch.randint(-2, 3, (len(x),), generator=g) * 2 / 9,
                                                          torch.randint(-2, 3, (len(x),), generator=g) * 2 / 9)), -1),
    "shrunk": lambda x, g: warp(x, affine(len(x), scale=0.6 + 0.3 * torch.rand(len(x), generator=g)), -1),
    "rotated": lambda x, g: warp(x, affine(len(x), rotate=(torch.rand(len(x), generator=g) - 0.5) * np.pi / 3), -1),
    "deformed": lambda x, g: deformed(x, 2, -1, 1, g),
}  # fmt: skip


@torch.no_grad()
def x_and_o(report: Report) -> None:
    canonical, _ = glyphs(1, torch.Generator())

    def template(x):  # the whole image against the canonical X and O, pixel by pixel
        scores = x.flatten(1) @ canonical.flatten(1).T
        return scores.argmax(1)

    def filters(x):  # the slide's three X filters anywhere in the image (max pooling), summed
        score = F.conv2d(x, SLIDE_X_FILTERS.unsqueeze(1), padding=1).amax(dim=(2, 3)).sum(1)
        cut = F.conv2d(canonical, SLIDE_X_FILTERS.unsqueeze(1), padding=1).amax(dim=(2, 3)).sum(1).mean()
        return (score < cut).long()  # below the midpoint of the clean X's and O's scores: an O

    acc = {k: {c: [] for c in GLYPH_CHANGES} for k in ("whole-image template", "3 X filters + max pooling")}
    for seed in report.seeds:
        g = torch.Generator().manual_seed(seed)
        images, labels = glyphs(200, g)
        for c, change in GLYPH_CHANGES.items():
            changed = change(images, g)
            for k, classify in zip(acc, (template, filters)):
                acc[k][c].append(float((classify(changed) == labels).float().mean()))
    report.text(
        "## Features of X: an X is an X, shifted, shrunk, rotated or deformed",
        "200 X's and 200 O's (9x9, +1 on -1 as the slide draws them) per seed, each changed at random. Two "
        "classifiers that learn nothing: the whole image against the clean X and O (computers are literal), "
        "and the slide's three X filters, each pooled over the whole image (its largest response), summed "
        "and cut midway between a clean X's and a clean O's sum.",
    )
    report.table(["classifier", *GLYPH_CHANGES], [[k, *(band(v) for v in by.values())] for k, by in acc.items()])
    literal = [mean(v) for v in acc["whole-image template"].values()]
    pooled = [mean(v) for v in acc["3 X filters + max pooling"].values()]
    report.verdict(
        "local filters with pooling still see an X that is shifted, shrunk, rotated or deformed, where matching "
        "the whole image fails (higher mean accuracy over the four changes)",
        mean(pooled) > mean(literal),
        f"filters + pooling {mean(pooled):.3f}, whole-image template {mean(literal):.3f} "
        f"(per change: {', '.join(f'{c} {p:.2f} vs {t:.2f}' for c, p, t in zip(GLYPH_CHANGES, pooled, literal))})",
        key="x_and_o",
    )


KERNELS = {
    "edge": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "blur": [[1 / 9] * 3] * 3,
}


def photo() -> torch.Tensor:
    """scikit-learn's bundled photograph (china.jpg), grey, at a quarter of its size."""
    from sklearn.datasets import load_sample_image

    image = torch.tensor(load_sample_image("china.jpg"), dtype=torch.float32).mean(2) / 255
    return F.avg_pool2d(image[None, None], 4)


def total_variation(x: torch.Tensor) -> float:
    return float((x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean())


def filter_effects(report: Report) -> None:
    image = photo()
    out = {k: F.conv2d(image, torch.tensor(v, dtype=torch.float32).view(1, 1, 3, 3))[0, 0] for k, v in KERNELS.items()}
    inner = image[0, 0, 1:-1, 1:-1]
    tv = {k: total_variation(o) / total_variation(inner) for k, o in out.items()}
    gy, gx = torch.gradient(inner)
    gradient = (gx**2 + gy**2).sqrt()
    flat = gradient < gradient.quantile(0.2)
    edge_flat = float(out["edge"].abs()[flat].mean() / out["edge"].abs().mean())
    fig, axes = plots.figure(1, 4, figsize=(13, 3))
    for ax, (title, img) in zip(axes, {"original": inner, **out}.items()):
        ax.imshow(img.abs() if title == "edge" else img, cmap="gray")
        ax.set_title(title)
        ax.axis("off")
    report.text(
        "## Different filters have different effects",
        "Three classic 3x3 kernels on a photograph (scikit-learn's china.jpg, grey): total variation (the "
        "mean absolute difference of neighbouring pixels) relative to the original, and the edge kernel's "
        "response in the flattest fifth of the photo relative to its mean response.",
    )
    report.table(
        ["kernel", "filter", "total variation / original's"], [[k, v, f"{tv[k]:.3f}"] for k, v in KERNELS.items()]
    )
    report.image(plots.save_figure(fig, report.scratch("filters.png")), "the same photo through three kernels")
    report.verdict(
        "different filters have different effects (blur lowers the total variation, sharpen raises it, the edge "
        "kernel answers at edges: its response in the flattest fifth is under half its mean)",
        tv["blur"] < 1 < tv["sharpen"] and edge_flat < 0.5,
        f"blur {tv['blur']:.3f}, sharpen {tv['sharpen']:.3f}; edge response in flat parts {edge_flat:.3f} of its mean",
        key="filter_effects",
    )


def main(scale: str) -> None:
    report = Report("vision", "What a CNN is invariant to, and what hand-made features are not", scale)
    epochs = {"smoke": 1, "default": 40, "paper": 100}[scale]
    seeds = {seed: Trained(report, seed, epochs) for seed in report.seeds}
    robustness(report, seeds)
    intra_class(report, seeds)
    no_spatial_information(report, epochs, seeds)
    pooling_invariance(report, seeds)
    hierarchy(report, seeds)
    x_and_o(report)
    filter_effects(report)
    report.write()
