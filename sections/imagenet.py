"""Section "ImageNet Challenge: Classification Task": AlexNet, ZFNet, VGG, GoogLeNet and ResNet as the slide
lists them, built at ImageNet size and counted, then their small variants trained side by side on digits."""

from __future__ import annotations

import torch

from sections.common import Report, band, mean
from zoo import plots
from zoo.nets import parts
from zoo.nets.alexnet import alexnet, zfnet
from zoo.nets.googlenet import googlenet
from zoo.nets.resnet import resnet152
from zoo.nets.vgg import vgg19

WIDE_ZF = [96, 256, 512, 1024, 512]  # Zeiler & Fergus, table 2: layers 3, 4, 5 with 512, 1024, 512 maps
# the slide's line: name -> (year, what the slide says, layers it says, parameters it says, the zoo's builder)
LINE = {
    "AlexNet": (2012, "8 layers, 61 million parameters", 8, 61e6, alexnet),
    "ZFNet": (2013, "8 layers, more filters", 8, None, zfnet),
    "VGG": (2014, "19 layers", 19, None, vgg19),
    "GoogLeNet": (2014, "Inception modules, 22 layers, 5 million parameters", 22, 5e6, googlenet),
    "ResNet": (2015, "152 layers", 152, None, resnet152),
}
MODEL = {"AlexNet": "alexnet", "ZFNet": "zfnet", "VGG": "vgg", "GoogLeNet": "googlenet", "ResNet": "resnet"}
COUNT_TOLERANCE = 0.05  # a parameter count "matches" the slide within 5 %
GOOGLENET_NOTE = (
    "; the figure likely comes from the paper's '12 times fewer parameters than [AlexNet]' (60M / 12), while "
    "its table 1 adds up to about 6.8M"
)


def counted(build, **options) -> tuple[int, int, int]:
    """(weight layers on the longest path, parameters, conv filters) of a net built on the meta device."""
    with torch.device("meta"):
        net = build(**options)
    filters = sum(m.out_channels for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    return parts.weight_layers_on_longest_path(net), sum(p.numel() for p in net.parameters()), filters


def tv_count(name: str) -> str:
    count = torchvision_count(name)
    return "-" if count is None else f"{count:,}"


def torchvision_count(name: str) -> int | None:
    """torchvision's definition of the same net, as a cross-check (built without weights)."""
    import torchvision.models as tv

    build = {"AlexNet": tv.alexnet, "VGG": tv.vgg19, "ResNet": tv.resnet152,
             "GoogLeNet": lambda: tv.googlenet(aux_logits=False, init_weights=False)}.get(name)  # fmt: skip
    if build is None:
        return None
    with torch.device("meta"):
        return sum(p.numel() for p in build().parameters())


def counts(report: Report) -> dict:
    found = {name: counted(build) for name, (_, _, _, _, build) in LINE.items()}
    wide = counted(zfnet, channels=WIDE_ZF)
    one_tower = counted(alexnet, channels=[64, 192, 384, 256, 256], groups=1)
    rows = []
    for name, (year, says, _, _, _) in LINE.items():
        layers, params, filters = found[name]
        rows.append([year, name, says, layers, f"{params:,}", filters, tv_count(name)])
        built = "ResNet-152 (zoo.nets.resnet.resnet152)" if name == "ResNet" else name
        report.cards[MODEL[name]] = [
            f"{built} at ImageNet size (3x224x224, 1000 classes): {layers} weight layers on the longest path, "
            f"{params:,} parameters, {filters:,} conv filters"
        ]
    rows.append([2013, "ZFNet, table 2's larger model", "", wide[0], f"{wide[1]:,}", wide[2], "-"])
    report.text(
        "## The line at ImageNet size",
        "Each network is built at 3x224x224 with 1000 classes on PyTorch's meta device (shapes, no weights) and "
        "counted: the weight layers (convolutions and fully connected) on the longest path from input to "
        "output, as the papers count depth, and the parameters. torchvision's definitions are the cross-check: "
        f"its AlexNet is the one-tower variant of Krizhevsky's later note (the zoo's with those channels and "
        f"groups=1: {one_tower[1]:,}), and its GoogLeNet has batch norm and 3x3 filters where table 1 has 5x5.",
    )
    report.table(["year", "net", "the slide", "layers", "parameters", "conv filters", "torchvision"], rows)
    fig, (ax_p, ax_l) = plots.figure(1, 2, figsize=(10, 3.5))
    names = list(LINE)
    ax_p.bar(names, [found[n][1] / 1e6 for n in names])
    ax_p.set(ylabel="parameters (millions)", yscale="log", title="parameters")
    ax_l.bar(names, [found[n][0] for n in names])
    ax_l.set(ylabel="weight layers on the longest path", title="depth")
    report.image(plots.save_figure(fig, report.scratch("line.png")), "the ImageNet line, counted at ImageNet size")
    return found | {"ZFNet wide": wide}


def count_verdicts(report: Report, found: dict) -> None:
    for name, (_, _, layers, params, _) in LINE.items():
        got_layers, got_params, _ = found[name]
        report.verdict(
            f"{name} has {layers} layers",
            got_layers == layers,
            f"{got_layers} weight layers counted",
            key=f"{name.lower()}_layers",
        )
        if params is not None:
            off = got_params / params - 1
            report.verdict(
                f"{name} has about {params / 1e6:.0f} million parameters (within {COUNT_TOLERANCE:.0%})",
                abs(off) <= COUNT_TOLERANCE,
                f"{got_params:,} counted, {off:+.1%} from the slide's figure"
                + (GOOGLENET_NOTE if name == "GoogLeNet" else ""),
                key=f"{name.lower()}_params",
            )
    alex, zf, wide = found["AlexNet"][2], found["ZFNet"][2], found["ZFNet wide"][2]
    report.verdict(
        "ZFNet (figure 3 of the paper) has more filters than AlexNet",
        zf > alex,
        f"{zf:,} conv filters vs AlexNet's {alex:,}: the same channels; its conv weights differ only by dense "
        f"connections and the smaller first filters",
        key="zfnet_filters",
    )
    report.verdict(
        "ZFNet's larger model (table 2: 512, 1024, 512 maps in layers 3-5) has more filters than AlexNet",
        wide > alex,
        f"{wide:,} conv filters vs {alex:,}",
        key="zfnet_wide_filters",
    )


def trained(report: Report, epochs: int) -> None:
    """The small variants through the shared trainer, same data, same epochs, each net's own defaults."""
    results = {name: [] for name in LINE}
    for name in LINE:
        for seed in report.seeds:
            overrides = [f"model={MODEL[name]}", f"trainer.max_epochs={epochs}", f"seed={seed}"]
            results[name].append(report.train(overrides, report.runs() / f"{MODEL[name]}_{seed}", figures=False))
    rows = [[LINE[name][0], name, f"`model={MODEL[name]}`", int(runs[0]["n_params"]),
             band(r["test/acc"] for r in runs), band(r["fit_seconds"] for r in runs)]
            for name, runs in results.items()]  # fmt: skip
    report.text(
        "## The small variants on digits",
        f"`python train.py model=<net> trainer.max_epochs={epochs}` on scikit-learn's 8x8 digits, seeds "
        f"{', '.join(map(str, report.seeds))}: each net at its CPU default (a 3x3 first layer instead of the "
        "ImageNet stem, a fraction of the channels, batch norm for VGG and GoogLeNet); ResNet is the zoo's "
        "CIFAR ResNet-20, the 152-layer ImageNet net being a day's work on this CPU.",
    )
    report.table(["year", "net", "command", "parameters", "test accuracy", "seconds"], rows)
    years = [LINE[name][0] for name in LINE]
    accuracy = [mean(r["test/acc"] for r in results[name]) for name in LINE]
    rho = spearman(years, accuracy)
    report.verdict(
        "the later networks of the line are the more accurate (Spearman correlation of year and mean test "
        "accuracy > 0.5, at equal epochs on digits)",
        rho > 0.5,
        f"rho {rho:.2f}; " + ", ".join(f"{n} {band(r['test/acc'] for r in results[n])}" for n in LINE),
        key="line_accuracy",
    )


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def main(scale: str) -> None:
    report = Report("imagenet", "The ImageNet line: AlexNet, ZFNet, VGG, GoogLeNet, ResNet", scale)
    count_verdicts(report, counts(report))
    trained(report, epochs={"smoke": 1, "default": 20, "paper": 60}[scale])
    report.write()
