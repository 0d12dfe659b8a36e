"""Section "Convolutional Neural Network": the slides' worked examples, X filters, CNN vs fully connected."""

from __future__ import annotations

import torch

from sections.common import Report
from zoo import plots
from zoo.nets.cnn import SLIDE_X_FILTERS, ConvBlock, load_filters

SLIDE_IMAGE = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
SLIDE_FILTER = [[1, 0, 1], [0, 1, 0], [1, 0, 1]]
SLIDE_FEATURE_MAP = [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
POOL_INPUT = [[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]]
SLIDE_POOLED = [[6, 8], [3, 4]]
X_IMAGE = [[-1] * 9 for _ in range(9)]
for i in range(1, 8):
    X_IMAGE[i][i] = X_IMAGE[i][8 - i] = 1


def worked_examples(report: Report) -> None:
    block = ConvBlock(1, 1, kernel_size=3, pool="none", batch_norm=False)
    load_filters(block[0], torch.tensor([SLIDE_FILTER], dtype=torch.float32))
    with torch.no_grad():
        feature_map = block(torch.tensor(SLIDE_IMAGE, dtype=torch.float32).view(1, 1, 5, 5))[0, 0, 1:-1, 1:-1]
        pooled = ConvBlock(1, 1, 3, "max", False)[-1](torch.tensor(POOL_INPUT, dtype=torch.float32).view(1, 1, 4, 4))[
            0, 0
        ]
    conv_ok, pool_ok = feature_map.tolist() == SLIDE_FEATURE_MAP, pooled.tolist() == SLIDE_POOLED
    report.text("## The slides' worked examples, through the zoo's conv block")
    report.table(
        ["example", "slide", "zoo"],
        [
            ["5x5 image (*) 3x3 filter", SLIDE_FEATURE_MAP, feature_map.int().tolist()],
            ["2x2 max pool, stride 2", SLIDE_POOLED, pooled.int().tolist()],
        ],
    )
    report.verdict(
        "the convolution and max-pool examples come out as on the slides",
        conv_ok and pool_ok,
        f"feature map {feature_map.int().tolist()}, pooled {pooled.int().tolist()}",
    )

    conv = load_filters(torch.nn.Conv2d(1, 3, 3, padding=1, bias=False), SLIDE_X_FILTERS)
    with torch.no_grad():
        maps = conv(torch.tensor(X_IMAGE, dtype=torch.float32).view(1, 1, 9, 9))[0]
    fig, axes = plots.figure(1, 4, figsize=(10, 2.8))
    axes[0].imshow(X_IMAGE, cmap="gray")
    axes[0].set_title("X image")
    for ax, m, name in zip(axes[1:], maps, ("\\ diagonal", "centre cross", "/ diagonal")):
        ax.imshow(m, cmap="RdBu_r", vmin=-9, vmax=9)
        ax.set_title(f"filter: {name}")
    for ax in axes:
        ax.axis("off")
    report.image(
        plots.save_figure(fig, report.scratch("x_feature_maps.png")), "feature maps of the slide's three X filters"
    )
    peaks = [m.max().item() for m in maps]
    report.verdict(
        "each X filter finds its part of the X (a perfect 3x3 match scores 9)",
        peaks == [9.0] * 3,
        f"peak responses {peaks}",
    )


def cnn_vs_fully_connected(report: Report, epochs: int) -> None:
    rows, result = [], {}
    for model in ("cnn", "mlp"):
        run = report.runs() / model
        metrics = report.train([f"model={model}", f"trainer.max_epochs={epochs}"], run)
        result[model] = metrics
        rows.append([model, metrics["n_params"], metrics["test/acc"], metrics["fit_seconds"]])
    report.text("## CNN vs fully connected net on digits")
    report.table(["model", "parameters", "test accuracy", "seconds"], rows)
    report.image(report.runs() / "cnn" / "first_layer_filters.png", "the CNN's learned first-layer filters")
    cnn, mlp = result["cnn"], result["mlp"]
    report.verdict(
        "sharing filters across the image needs fewer parameters for the same accuracy",
        cnn["n_params"] < mlp["n_params"] and cnn["test/acc"] >= mlp["test/acc"] - 0.005,
        f"CNN {cnn['n_params']} parameters, {cnn['test/acc']:.4f}; MLP {mlp['n_params']}, {mlp['test/acc']:.4f}",
    )


def main(scale: str) -> None:
    report = Report("cnn", "Convolutions, pooling, and CNN vs fully connected", scale)
    worked_examples(report)
    cnn_vs_fully_connected(report, epochs={"smoke": 1, "default": 60, "paper": 200}[scale])
    report.write()
