"""Section "The problem when go deeper" and "ResNet vs ODENet": degradation of plain nets, residual fix, ODENet."""

from __future__ import annotations

from sections.common import Report, history
from zoo import plots

PRESET = {"plainnet": "plain", "resnet": "resnet"}  # configs/experiment/<preset><depth>_cifar10.yaml


def degradation_runs(scale: str, epochs: int | None) -> dict[tuple[str, int, bool], list[str]]:
    """(model, depth, residual branches start at zero) -> overrides: on digits, or at the paper scale He et
    al.'s CIFAR-10 recipes (presets)."""
    nets = [(model, depth) for depth in (20, 56) for model in ("plainnet", "resnet")]
    if scale == "paper":  # Figure 6 of He et al. 2016: 64k iterations each, a GPU's work
        return {(model, depth, False): [f"experiment={PRESET[model]}{depth}_cifar10"] for model, depth in nets}

    def on_digits(model: str, depth: int, zero: bool) -> list[str]:
        return [
            f"model={model}",
            f"model.depth={depth}",
            f"model.zero_init_residual={str(zero).lower()}",
            f"trainer.max_epochs={epochs}",
            "data.augment=false",
        ]

    return {(model, depth, model == "resnet"): on_digits(model, depth, model == "resnet") for model, depth in nets}


def degradation(report: Report, scale: str, epochs: int | None) -> None:
    losses, rows = {}, []
    for (model, depth, _), overrides in degradation_runs(scale, epochs).items():
        label = f"{model}-{depth}"
        run = report.runs() / f"{model}{depth}"
        metrics = report.train(overrides, run)
        losses[label] = history(run)["train/loss"]
        rows.append([label, metrics["n_params"], losses[label][-1], metrics["test/acc"], metrics["fit_seconds"]])
    fig, ax = plots.figure(figsize=(5.5, 3.5))
    for label, curve in losses.items():
        ax.plot(range(1, len(curve) + 1), curve, "--" if label.startswith("plain") else "-", label=label)
    ax.set(xlabel="epoch", ylabel="training loss", yscale="log", title="plain vs residual, 20 and 56 layers")
    ax.legend(fontsize=8)
    if scale == "paper":
        report.text(
            "## Plain vs residual nets on CIFAR-10 (He et al. 2016's recipe: 64k iterations, batch 128, SGD 0.1, "
            "lr / 10 at 32k and 48k, augmentation)"
        )
    else:
        report.text(
            f"## Plain vs residual nets on digits ({epochs} epochs, SGD 0.1, cosine schedule, no augmentation)",
            "The residual nets start each residual branch at zero (the scale of its last batch norm; Goyal et al. "
            "2017), so at the start a deep residual net is the identity on top of a shallow one. With He et al.'s "
            "initialisation alone, ResNet-56's 27 branches add their variance at the start on 8x8 images and SGD at "
            "0.1 spends these 15 epochs recovering (`model.zero_init_residual=false`; README has the numbers).",
        )
    report.table(["net", "parameters", "final training loss", "test accuracy", "seconds"], rows)
    report.image(
        plots.save_figure(fig, report.scratch("degradation.png")), "training loss of plain (dashed) and residual nets"
    )
    final = {label: curve[-1] for label, curve in losses.items()}
    plain20, res20, plain56, res56 = (final[f"{m}-{d}"] for d in (20, 56) for m in ("plainnet", "resnet"))
    report.verdict(
        "the deeper plain net trains worse than the shallower one",
        plain56 > plain20,
        f"final training loss plain-56 {plain56:.4f} vs plain-20 {plain20:.4f}",
    )
    report.verdict(
        "the deeper residual net does not (final training loss at most 10% or 0.001 above the shallower's)",
        res56 <= max(res20 * 1.1, res20 + 0.001),
        f"final training loss resnet-56 {res56:.4f} vs resnet-20 {res20:.4f}",
    )
    report.verdict(
        "at 56 layers the shortcuts make the difference",
        res56 < plain56 / 10,
        f"final training loss resnet-56 {res56:.4f} vs plain-56 {plain56:.4f}",
    )


ODE_VARIANTS = {
    "ODENet (dopri5, adjoint)": [],
    "ResNet baseline (6 blocks)": ["model.block=resnet"],
    "RK-Net (rk4, backprop)": ["model.solver=rk4", "model.adjoint=false"],
}


def odenet_runs(scale: str, epochs: int | None) -> dict[str, list[str]]:
    """Overrides of the three variants: on digits, or at the paper scale Chen et al.'s MNIST recipe (preset)."""
    base = ["experiment=odenet_mnist"] if scale == "paper" else ["model=odenet", f"trainer.max_epochs={epochs}"]
    return {label: [*base, *extra] for label, extra in ODE_VARIANTS.items()}


def resnet_vs_odenet(report: Report, scale: str, epochs: int | None) -> None:
    rows = []
    for label, overrides in odenet_runs(scale, epochs).items():
        run = report.runs() / label.split()[0].lower()
        metrics = report.train(overrides, run)
        rows.append(
            [
                label,
                metrics["n_params"],
                metrics["test/acc"],
                metrics["train/nfe_forward"],
                metrics.get("train/nfe_backward", 0.0),
                metrics["fit_seconds"],
            ]
        )
    report.text(
        "## ResNet vs ODENet on MNIST (Chen et al. 2018's recipe: 160 epochs, SGD 0.1, lr / 10 at 60, 100, 140)"
        if scale == "paper"
        else f"## ResNet vs ODENet on digits ({epochs} epochs)"
    )
    report.table(["model", "parameters", "test accuracy", "NFE forward", "NFE backward", "seconds"], rows)
    ode, res = rows[0], rows[1]
    report.verdict(
        "an ODE block matches the residual stack's accuracy with fewer parameters",
        ode[1] < res[1] and ode[2] >= res[2] - 0.01,
        f"ODENet {ode[1]} parameters, {ode[2]:.4f}; ResNet {res[1]}, {res[2]:.4f}",
    )


def main(scale: str) -> None:
    report = Report("resnet", "Going deeper: plain nets, residual nets and ODE nets", scale)
    # The paper scale runs the papers' own recipes and lengths (CIFAR-10 and MNIST, downloaded; hours on a GPU).
    degradation(report, scale, epochs={"smoke": 1, "default": 15}.get(scale))
    resnet_vs_odenet(report, scale, epochs={"smoke": 1, "default": 8}.get(scale))
    report.write()
