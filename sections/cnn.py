"""Section "Convolutional Neural Network": the slides' worked examples, X filters, CNN vs fully connected."""

from __future__ import annotations

import torch

from sections.common import Report, band, mean
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
        key="worked_examples",
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
        key="x_filters",
    )


def cnn_vs_fully_connected(report: Report, epochs: int) -> None:
    """The CNN against the MLP at its default width and at the CNN's number of parameters, every seed."""
    nets = {
        "cnn": ["model=cnn"],
        "mlp": ["model=mlp"],
        "mlp, as many parameters as the CNN": ["model=mlp", "model.width=196"],
    }
    acc, params = {}, {}
    for label, overrides in nets.items():
        for seed in report.seeds:
            run = report.runs() / f"{label.split(',')[0]}{'_small' if ',' in label else ''}_{seed}"
            metrics = report.train([*overrides, f"trainer.max_epochs={epochs}", f"seed={seed}"], run)
            acc.setdefault(label, []).append(metrics["test/acc"])
            params[label] = metrics["n_params"]
    conv = torch.nn.Conv2d(1, 32, 3, padding=1)
    dense = 64 * (32 * 8 * 8) + 32 * 8 * 8  # a fully connected layer from the 64 pixels to the same 32 maps of 8x8
    conv_params = sum(p.numel() for p in conv.parameters())
    report.text(
        "## CNN vs fully connected net on digits",
        f"{epochs} epochs, seeds {', '.join(map(str, report.seeds))}. The MLP's default has 2 hidden layers of 512 "
        "units, most of its parameters in the 512 x 512 layer; the third row is the MLP narrowed to 196 units, "
        "about the CNN's count. Where sharing saves: the CNN's first layer (32 filters of 3x3) against a fully "
        "connected layer from the 64 pixels to the same 32 maps of 8x8 units.",
    )
    report.table(["model", "parameters", "test accuracy"], [[k, params[k], band(v)] for k, v in acc.items()])
    report.table(["first layer to 32 maps of 8x8", "parameters"], [["convolution, shared 3x3 filters", conv_params],
                                                                   ["fully connected", dense]])  # fmt: skip
    report.image(
        report.runs() / f"cnn_{report.seeds[0]}" / "first_layer_filters.png", "the CNN's learned first-layer filters"
    )
    report.verdict(
        "sharing filters across the image needs far fewer parameters (the conv layer's count is under 1% of a fully "
        "connected layer with the same outputs)",
        conv_params < dense / 100,
        f"{conv_params:,} vs {dense:,}",
        key="shared_filters",
    )
    cnn, small = acc["cnn"], acc["mlp, as many parameters as the CNN"]
    report.verdict(
        "with as many parameters, the CNN is more accurate than the fully connected net (higher mean test accuracy)",
        mean(cnn) > mean(small),
        f"CNN {params['cnn']:,} parameters {band(cnn)}; MLP {params['mlp, as many parameters as the CNN']:,} "
        f"{band(small)}; the default MLP {params['mlp']:,} {band(acc['mlp'])}",
        key="cnn_equal_params",
    )


def main(scale: str) -> None:
    report = Report("cnn", "Convolutions, pooling, and CNN vs fully connected", scale)
    worked_examples(report)
    cnn_vs_fully_connected(report, epochs={"smoke": 1, "default": 60, "paper": 200}[scale])
    report.write()
