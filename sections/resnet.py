"""Section "The problem when go deeper" and "ResNet vs ODENet": degradation of plain nets, residual fix, ODENet."""

from __future__ import annotations

import torch

from sections.common import Report, band, history, mean
from zoo import plots

PRESET = {"plainnet": "plain", "resnet": "resnet"}  # configs/experiment/<preset><depth>_cifar10.yaml


def degradation_runs(scale: str, epochs: int | None) -> dict[tuple[str, int, bool], list[str]]:
    """(model, depth, residual branches start at zero) -> overrides: on digits, or at the paper scale He et
    al.'s CIFAR-10 recipes (presets). On digits the residual nets run both ways: with branches that start at
    zero (Goyal et al. 2017, not in the slides) and with He et al.'s initialisation alone."""
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

    both = [
        (model, depth, zero) for model, depth in nets for zero in ((False, True) if model == "resnet" else (False,))
    ]
    return {(model, depth, zero): on_digits(model, depth, zero) for model, depth, zero in both}


def label_of(model: str, depth: int, zero: bool) -> str:
    return f"{model}-{depth}" + (", zero-init branches" if zero else "")


def degradation(report: Report, scale: str, epochs: int | None) -> dict:
    losses, final, accuracy, trained = {}, {}, {}, {}
    for (model, depth, zero), overrides in degradation_runs(scale, epochs).items():
        label = label_of(model, depth, zero)
        for seed in report.seeds:
            run_dir = report.runs() / f"{model}{depth}{'_zero' if zero else ''}_{seed}"
            run = report.fit([*overrides, f"seed={seed}"], run_dir)
            curve = history(run_dir)["train/loss"]
            losses.setdefault(label, curve)
            final.setdefault(label, []).append(curve[-1])
            accuracy.setdefault(label, []).append(run.metrics["test/acc"])
            trained.setdefault(label, []).append((run.model.net, run.datamodule))
    fig, ax = plots.figure(figsize=(5.5, 3.5))
    for label, curve in losses.items():
        ax.plot(range(1, len(curve) + 1), curve, "--" if label.startswith("plain") else "-", label=label)
    ax.set(xlabel="epoch", ylabel="training loss", yscale="log", title="plain vs residual, 20 and 56 layers")
    ax.legend(fontsize=7)
    if scale == "paper":
        report.text(
            "## Plain vs residual nets on CIFAR-10 (He et al. 2016's recipe: 64k iterations, batch 128, SGD 0.1, "
            "lr / 10 at 32k and 48k, augmentation)"
        )
    else:
        report.text(
            f"## Plain vs residual nets on digits ({epochs} epochs, SGD 0.1, cosine schedule, no augmentation, "
            f"seeds {', '.join(map(str, report.seeds))})",
            "The residual nets run twice: with He et al.'s initialisation alone (the model's default), and with "
            "each residual branch starting at zero (the scale of its last batch norm; Goyal et al. 2017, "
            "`model.zero_init_residual=true`), so that at the start a deep residual net is the identity on top "
            "of a shallow one. The slides do not make that choice; the verdicts say which one they need.",
        )
    report.table(["net", "final training loss", "test accuracy"],
                 [[label, band(final[label]), band(accuracy[label])] for label in final])  # fmt: skip
    report.image(
        plots.save_figure(fig, report.scratch("degradation.png")), "training loss of plain (dashed) and residual nets"
    )
    f = {label: mean(v) for label, v in final.items()}
    a = {label: mean(v) for label, v in accuracy.items()}
    if scale == "paper":
        res = {zero: (f["resnet-20"], f["resnet-56"]) for zero in (False,)}
    else:
        res = {zero: (f[label_of("resnet", 20, zero)], f[label_of("resnet", 56, zero)]) for zero in (False, True)}
    show = lambda label: band(final[label])  # noqa: E731
    report.verdict(
        "the deeper plain net trains worse than the shallower one (a higher mean final training loss)",
        f["plainnet-56"] > f["plainnet-20"],
        f"plain-56 {show('plainnet-56')} vs plain-20 {show('plainnet-20')}",
        key="plain_degrades",
    )
    report.verdict(
        "... and tests worse (a lower mean test accuracy)",
        a["plainnet-56"] < a["plainnet-20"],
        f"plain-56 {band(accuracy['plainnet-56'])} vs plain-20 {band(accuracy['plainnet-20'])}",
        key="plain_test_error",
    )
    for zero, (res20, res56) in res.items():
        how = "residual branches that start at zero (Goyal et al. 2017)" if zero else ""
        report.verdict(
            "the deeper residual net does not degrade (its mean final training loss is at most 10% or 0.001 above "
            "the shallower's)",
            res56 <= max(res20 * 1.1, res20 + 0.001),
            f"resnet-56 {show(label_of('resnet', 56, zero))} vs resnet-20 {show(label_of('resnet', 20, zero))}",
            key="residual_does_not" + ("" if zero else "_he_init"),
            conditions=how or "He et al.'s initialisation alone",
        )
        report.verdict(
            "at 56 layers the shortcuts make the difference (a mean final training loss under a tenth of plain-56's)",
            res56 < f["plainnet-56"] / 10,
            f"resnet-56 {show(label_of('resnet', 56, zero))} vs plain-56 {show('plainnet-56')}",
            key="shortcuts_at_56" + ("" if zero else "_he_init"),
            conditions=how or "He et al.'s initialisation alone",
        )
    return trained


@torch.no_grad()
def dead_units(net: torch.nn.Module, x: torch.Tensor) -> float:
    """The share of the blocks' output channels (after their ReLU) that are zero for every test image."""
    dead = []
    hooks = [b.register_forward_hook(lambda m, i, out: dead.append((out.amax(dim=(0, 2, 3)) <= 0).float()))
             for b in net.blocks]  # fmt: skip
    net.eval()(x)
    for hook in hooks:
        hook.remove()
    return float(torch.cat(dead).mean())


def gradient_spread(shortcuts: bool, x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """At initialisation: the gradient norm of the first block's first conv over the last block's."""
    from zoo.nets.resnet import ResNet

    torch.manual_seed(seed)
    net = ResNet(list(x.shape[1:]), 10, depth=56, shortcuts=shortcuts)
    torch.nn.functional.cross_entropy(net(x), y).backward()
    return float(net.blocks[0].conv1.weight.grad.norm() / net.blocks[-1].conv1.weight.grad.norm())


def why_deeper_fails(report: Report, trained: dict) -> None:
    """The slide's cause: vanishing gradients, dying neurons; measured at the start and after training."""
    _, datamodule = trained["plainnet-56"][0]
    train, test = datamodule.splits["train"], datamodule.splits["test"]
    spread = {kind: [gradient_spread(kind == "residual", train.x[:256], train.y[:256], s) for s in report.seeds]
              for kind in ("plain", "residual")}  # fmt: skip
    dead = {label: [dead_units(net, test.x) for net, _ in trained[label]] for label in ("plainnet-56", "resnet-56")}
    report.text(
        "## Why the deeper plain net fails: vanishing gradients, dying neurons",
        "At initialisation (He et al.'s, seeds as above), 256 training digits: the gradient norm of the first "
        "block's first convolution over the last block's. After training (every seed): the share of the "
        "blocks' output channels, after their ReLU, that no test digit switches on.",
    )
    report.table(["56 layers", "gradient norm, first block / last block, at the start", "dead channels, trained"],
                 [["plain", band(spread["plain"]), band(dead["plainnet-56"])],
                  ["residual (He init)", band(spread["residual"]), band(dead["resnet-56"])]])  # fmt: skip
    report.verdict(
        "in the deeper plain net the gradient vanishes on its way back (its first block gets 10x less gradient, "
        "relative to its last, than the residual net's)",
        mean(spread["plain"]) * 10 <= mean(spread["residual"]),
        f"first / last block gradient norm: plain {band(spread['plain'])}, residual {band(spread['residual'])}",
        key="vanishing_cause",
    )
    report.verdict(
        "and more of its neurons die (a larger share of dead output channels than the residual net's)",
        mean(dead["plainnet-56"]) > mean(dead["resnet-56"]),
        f"plain-56 {band(dead['plainnet-56'])}, resnet-56 {band(dead['resnet-56'])}",
        key="dead_neurons",
    )


def skip_layers(report: Report, epochs: int | None) -> None:
    """He et al.'s two convolutions inside each shortcut against one (the same 56 layers in twice the blocks)."""
    final, acc = {}, {}
    for layers in (2, 1):
        for seed in report.seeds:
            overrides = ["model=resnet", "model.depth=56", f"model.block_layers={layers}", "data.augment=false"]
            overrides += ["model.zero_init_residual=true", f"trainer.max_epochs={epochs}", f"seed={seed}"]
            run_dir = report.runs() / f"resnet56_skip{layers}_{seed}"
            metrics = report.train(overrides, run_dir)
            final.setdefault(layers, []).append(history(run_dir)["train/loss"][-1])
            acc.setdefault(layers, []).append(metrics["test/acc"])
    report.text(
        "## Skipping two layers or one",
        f"ResNet-56 on digits ({epochs} epochs, branches starting at zero), each shortcut around two 3x3 "
        "convolutions (He et al.) or around one (`model.block_layers=1`: 54 blocks instead of 27).",
    )
    report.table(["layers inside each shortcut", "final training loss", "test accuracy"],
                 [[k, band(final[k]), band(acc[k])] for k in (2, 1)])  # fmt: skip
    report.verdict(
        "skipping two layers is the key, skipping one gives little (the two-layer blocks' mean test accuracy is "
        "above the one-layer blocks')",
        mean(acc[2]) > mean(acc[1]),
        f"two layers {band(acc[2])}, one layer {band(acc[1])}; training loss {band(final[2])} vs {band(final[1])}",
        key="skip_two_layers",
        conditions="residual branches that start at zero (Goyal et al. 2017), both nets",
    )


def first_stage(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    per_stage = len(net.blocks) // 3
    return net.blocks[:per_stage](net.stem(x)).flatten(1)


@torch.no_grad()
def input_read_back(net: torch.nn.Module, train, test, trained: bool) -> float:
    """R^2 of a ridge regression from the first stage's standardised features back to the input pixels (on test
    digits). An untrained net runs as it does at the start of training, its batch norms on batch statistics."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    net.train(not trained)
    features = [first_stage(net, split.x).numpy() for split in (train, test)]
    model = make_pipeline(StandardScaler(), Ridge(alpha=10.0)).fit(features[0], train.x.flatten(1).numpy())
    # weighted by each pixel's variance: a corner pixel that is always background has none to explain
    return float(r2_score(test.x.flatten(1).numpy(), model.predict(features[1]), multioutput="variance_weighted"))


def information_kept(report: Report, trained: dict) -> None:
    """The note on the shortcut slide: without + x, what earlier layers lost is lost for good."""
    from zoo.nets.resnet import ResNet

    _, datamodule = trained["plainnet-56"][0]
    train, test = datamodule.splits["train"], datamodule.splits["test"]
    at_start = {True: [], False: []}
    for seed in report.seeds:
        for shortcuts in at_start:
            torch.manual_seed(seed)
            net = ResNet(list(train.x.shape[1:]), 10, depth=56, shortcuts=shortcuts)
            at_start[shortcuts].append(input_read_back(net, train, test, trained=False))
    after = {label: [input_read_back(net, train, test, True) for net, _ in trained[label]]
             for label in ("plainnet-56", "resnet-56")}  # fmt: skip
    report.text(
        "## Without + x, what is lost stays lost",
        "How much of the input digit a linear read-out (ridge regression) recovers from the features after the "
        "first stage (9 blocks) of 56-layer nets: R^2 on the test digits (pixels weighted by their variance), at "
        "initialisation (He et al.'s) and "
        "after training.",
    )
    report.table(["56 layers", "R^2 at initialisation", "R^2 trained"],
                 [["plain", band(at_start[False]), band(after["plainnet-56"])],
                  ["residual", band(at_start[True]), band(after["resnet-56"])]])  # fmt: skip
    report.verdict(
        "without + x the input is lost (a linear read-out recovers more of the input from the residual net's "
        "first stage than from the plain net's, at initialisation)",
        mean(at_start[True]) > mean(at_start[False]),
        f"residual {band(at_start[True])}, plain {band(at_start[False])}; trained {band(after['resnet-56'])} vs "
        f"{band(after['plainnet-56'])}",
        key="information_kept",
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
    rows, acc, params, ode = [], {}, {}, []
    for label, overrides in odenet_runs(scale, epochs).items():
        for seed in report.seeds:
            run = report.fit([*overrides, f"seed={seed}"], report.runs() / f"{label.split()[0].lower()}_{seed}")
            metrics = run.metrics
            acc.setdefault(label, []).append(metrics["test/acc"])
            params[label] = metrics["n_params"]
            if label == "ODENet (dopri5, adjoint)":
                ode.append(run)
            if seed == report.seeds[0]:
                rows.append([label, metrics["n_params"], metrics["train/nfe_forward"],
                             metrics.get("train/nfe_backward", 0.0), metrics["fit_seconds"]])  # fmt: skip
    report.text(
        "## ResNet vs ODENet on MNIST (Chen et al. 2018's recipe: 160 epochs, SGD 0.1, lr / 10 at 60, 100, 140)"
        if scale == "paper"
        else f"## ResNet vs ODENet on digits ({epochs} epochs, seeds {', '.join(map(str, report.seeds))})"
    )
    report.table(["model", "parameters", "NFE forward", "NFE backward", "seconds"], rows)
    report.table(["model", "test accuracy"], [[label, band(v)] for label, v in acc.items()])
    o, r = "ODENet (dopri5, adjoint)", "ResNet baseline (6 blocks)"
    report.verdict(
        "an ODE block matches the residual stack's accuracy with fewer parameters (mean accuracy at most 0.01 below)",
        params[o] < params[r] and mean(acc[o]) >= mean(acc[r]) - 0.01,
        f"ODENet {params[o]:,} parameters, {band(acc[o])}; ResNet {params[r]:,}, {band(acc[r])}",
        key="odenet",
    )
    euler_steps(report, ode)


@torch.no_grad()
def euler_steps(report: Report, runs: list) -> None:
    """The trained ODENet's f, integrated by N Euler steps h <- h + f(h) / N: N = 1 is one residual block."""
    steps = (1, 2, 4, 8, 16)
    acc, gap = {n: [] for n in steps}, {n: [] for n in steps}
    solver_acc = []
    for run in runs:
        net, test = run.model.net.eval(), run.datamodule.splits["test"]
        block = net.block
        reference = net(test.x)
        solver_acc.append(float((reference.argmax(1) == test.y).float().mean()))
        solver, options = block.solver, block.options
        try:
            for n in steps:
                block.solver, block.options = "euler", {"step_size": 1 / n}
                logits = net(test.x)
                acc[n].append(float((logits.argmax(1) == test.y).float().mean()))
                gap[n].append(float((logits - reference).abs().max()))
        finally:
            block.solver, block.options = solver, options
    report.text(
        "## A residual block is an Euler step",
        "Each trained ODENet's own f, integrated from 0 to 1 by N Euler steps h <- h + f(h, t) / N instead of "
        "the adaptive solver (dopri5): N = 1 is h + f(h), a residual block. Test accuracy, and the largest "
        "difference of the class scores from the solver's.",
    )
    report.table(["integration", "test accuracy", "max |logit difference| from dopri5"],
                 [["dopri5 (adaptive)", band(solver_acc), "0"]]
                 + [[f"{n} Euler step{'s' if n > 1 else ''}", band(acc[n]), band(gap[n])] for n in steps])  # fmt: skip
    gaps = [mean(gap[n]) for n in steps]
    report.verdict(
        "ResNet's update is the Euler step of the ODENet's (more Euler steps of the trained f approach the solver: "
        "the logit gap shrinks with every doubling, and 16 steps are within 0.01 of its accuracy)",
        all(b < a for a, b in zip(gaps, gaps[1:])) and abs(mean(acc[16]) - mean(solver_acc)) <= 0.01,
        ", ".join(f"{n} steps {band(acc[n])} (gap {mean(gap[n]):.3g})" for n in steps) + f"; dopri5 {band(solver_acc)}",
        key="euler_step",
    )


def main(scale: str) -> None:
    report = Report("resnet", "Going deeper: plain nets, residual nets and ODE nets", scale)
    # The paper scale runs the papers' own recipes and lengths (CIFAR-10 and MNIST, downloaded; hours on a GPU).
    trained = degradation(report, scale, epochs={"smoke": 1, "default": 15}.get(scale))
    if scale != "paper":
        why_deeper_fails(report, trained)
        information_kept(report, trained)
        skip_layers(report, {"smoke": 1, "default": 15}[scale])
    resnet_vs_odenet(report, scale, epochs={"smoke": 1, "default": 8}.get(scale))
    report.write()
