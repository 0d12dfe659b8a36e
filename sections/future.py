"""Section "FUTURE: LONG WAY TO GO": three of the slide's open questions, measured at small scale.

- "Capacity: how deep is enough?": depth sweeps of the MLP (1-8 hidden layers) and the ResNet (8-56 layers)
  at equal epochs.
- "Geometry of loss function": filter-normalised 1-D and 2-D slices of the training loss around trained plain
  and residual nets (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets"): how much of the slice
  curves downward somewhere (non-convex), as the paper measured with the Hessian's eigenvalues.
- "Deep learning with less data?": learning curves with and without augmentation, and transfer: a CNN
  trained on digits 0-4, fine-tuned on 5-9 with 10 examples per class, against the same CNN from scratch.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from sections.common import Report, band, mean, small_batch
from zoo import plots

DEPTHS = {"mlp": (1, 2, 4, 8), "resnet": (8, 14, 20, 32, 56)}
ENOUGH = 0.005  # "enough" depth: the shallowest whose mean accuracy is within half a point of the best
SLICE_DEPTH = 32
FRACTIONS = (0.05, 0.1, 0.25, 1.0)
SHOTS = 10  # examples per class of the new digits


def depth_sweep(report: Report, epochs: int) -> dict:
    acc, runs = {}, {}
    smoke = {"mlp": DEPTHS["mlp"][:2], "resnet": (DEPTHS["resnet"][0], SLICE_DEPTH)}  # the geometry needs SLICE_DEPTH
    sweep = smoke if report.scale == "smoke" else DEPTHS
    for model, depths in sweep.items():
        for depth in depths:
            for seed in report.seeds:
                overrides = [f"model={model}", f"model.depth={depth}", f"trainer.max_epochs={epochs}", f"seed={seed}"]
                overrides += ["data.augment=false"]
                run = report.fit(overrides, report.runs() / f"{model}{depth}_{seed}", figures=False)
                acc.setdefault((model, depth), []).append(run.metrics["test/acc"])
                runs[model, depth, seed] = run
    report.text(
        "## How deep is enough?",
        f"`python train.py model=mlp|resnet model.depth=D trainer.max_epochs={epochs} data.augment=false` on "
        f"digits, seeds {', '.join(map(str, report.seeds))}: the MLP's depth is its hidden layers, the ResNet's its "
        f"weight layers (6n+2).",
    )
    report.table(["model", "depth", "test accuracy"], [[m, d, band(v)] for (m, d), v in acc.items()])
    fig, ax = plots.figure(figsize=(5.5, 3.5))
    for model, depths in sweep.items():
        ax.errorbar(depths, [mean(acc[model, d]) for d in depths], marker="o", label=model)
    ax.set(xscale="log", xlabel="depth", ylabel="test accuracy")
    ax.legend()
    report.image(plots.save_figure(fig, report.scratch("depth.png")), "test accuracy against depth")
    for model, depths in sweep.items():
        means = {d: mean(acc[model, d]) for d in depths}
        best = max(means.values())
        enough = min(d for d in depths if means[d] >= best - ENOUGH)
        report.verdict(
            f"there is a depth that is enough for the {model} here (the shallowest depth within {ENOUGH} of the best "
            "mean accuracy is shallower than the deepest tried)",
            enough < max(depths),
            f"enough: {enough}; " + ", ".join(f"depth {d} {band(acc[model, d])}" for d in depths),
            key=f"enough_depth_{model}",
        )
    return runs


def filter_normalised_direction(net: torch.nn.Module, generator: torch.Generator) -> list[torch.Tensor]:
    """A random direction with each filter (each output unit's weights) scaled to that filter's norm in the
    net; biases and batch-norm parameters get no direction (Li et al. 2018, section 4)."""
    direction = []
    for p in net.parameters():
        d = torch.randn(p.shape, generator=generator)
        if p.dim() <= 1:
            d.zero_()
        else:
            d *= p.detach().flatten(1).norm(dim=1).view(-1, *[1] * (p.dim() - 1)) / d.flatten(1).norm(dim=1).view(
                -1, *[1] * (p.dim() - 1)
            )
        direction.append(d)
    return direction


@torch.no_grad()
def loss_slice(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, seed: int) -> torch.Tensor:
    """The training loss on the grid theta + a d1 + b d2, a and b in [-1, 1] (steps x steps points)."""
    net = copy.deepcopy(net).eval()
    g = torch.Generator().manual_seed(seed)
    d1, d2 = filter_normalised_direction(net, g), filter_normalised_direction(net, g)
    centre = [p.detach().clone() for p in net.parameters()]
    grid = torch.linspace(-1, 1, steps)
    surface = torch.zeros(steps, steps)
    for i, a in enumerate(grid):
        for j, b in enumerate(grid):
            for p, c, u, v in zip(net.parameters(), centre, d1, d2):
                p.copy_(c + a * u + b * v)
            surface[i, j] = F.cross_entropy(net(x), y)
    return surface


def non_convex_share(surface: torch.Tensor) -> float:
    """The share of the slice's inner points where the finite-difference Hessian has a negative eigenvalue
    larger than a tenth of its positive one (Li et al.'s |lambda_min / lambda_max|, read at 0.1)."""
    s = surface  # in units of the grid step, which cancels in the eigenvalues' ratio
    faa = s[2:, 1:-1] - 2 * s[1:-1, 1:-1] + s[:-2, 1:-1]
    fbb = s[1:-1, 2:] - 2 * s[1:-1, 1:-1] + s[1:-1, :-2]
    fab = (s[2:, 2:] - s[2:, :-2] - s[:-2, 2:] + s[:-2, :-2]) / 4
    hessians = torch.stack([torch.stack([faa, fab], -1), torch.stack([fab, fbb], -1)], -2)
    eig = torch.linalg.eigvalsh(hessians)
    lo, hi = eig[..., 0], eig[..., 1]
    return float(((lo < 0) & (lo.abs() > 0.1 * hi.abs())).float().mean())


def geometry(report: Report, epochs: int, runs: dict, steps: int) -> None:
    shares, surfaces = {"plain": [], "residual": []}, {}
    for seed in report.seeds:
        overrides = ["model=plainnet", f"model.depth={SLICE_DEPTH}", f"trainer.max_epochs={epochs}", f"seed={seed}"]
        plain = report.fit([*overrides, "data.augment=false"], report.runs() / f"plain{SLICE_DEPTH}_{seed}", False)
        for kind, run in (("plain", plain), ("residual", runs["resnet", SLICE_DEPTH, seed])):
            train = run.datamodule.splits["train"]
            surface = loss_slice(run.model.net, train.x[:512], train.y[:512], steps, seed)
            shares[kind].append(non_convex_share(surface))
            surfaces.setdefault(kind, surface)
    fig, axes = plots.figure(1, 3, figsize=(14, 4))
    grid = torch.linspace(-1, 1, steps)
    for ax, (kind, surface) in zip(axes, surfaces.items()):
        shown = ax.contour(grid, grid, surface.log10(), levels=20)
        fig.colorbar(shown, ax=ax, label="log10 training loss")
        ax.set(title=f"{kind}-{SLICE_DEPTH}", xlabel="direction 1", ylabel="direction 2")
    for kind, surface in surfaces.items():
        axes[2].plot(grid, surface[:, steps // 2], label=f"{kind}-{SLICE_DEPTH}")
    axes[2].set(yscale="log", xlabel="along direction 1", ylabel="training loss", title="1-D slice")
    axes[2].legend()
    report.text(
        "## The geometry of the loss",
        f"Plain and residual nets of {SLICE_DEPTH} layers trained {epochs} epochs on digits; the training loss "
        f"(512 training digits, batch norm with its running statistics) on a {steps}x{steps} grid of "
        "theta + a d1 + b d2 with filter-normalised random directions d1, d2 (Li et al. 2018). The measure is the "
        "share of the grid's inner points where the surface curves down along some direction by more than a "
        "tenth of its upward curvature.",
    )
    report.table(["net", "non-convex share of the slice"], [[k, band(v)] for k, v in shares.items()])
    report.image(plots.save_figure(fig, report.scratch("loss_surface.png")), "2-D and 1-D loss slices, first seed")
    report.verdict(
        f"shortcuts make the loss surface smoother (a smaller non-convex share of the slice around the residual "
        f"net than around the plain one, at depth {SLICE_DEPTH})",
        mean(shares["residual"]) < mean(shares["plain"]),
        f"residual {band(shares['residual'])}, plain {band(shares['plain'])}",
        key="loss_surface",
    )


def augmentation_curves(report: Report, epochs: int) -> None:
    acc = {}
    fractions = FRACTIONS if report.scale != "smoke" else (0.1, 1.0)
    for fraction in fractions:
        for augment in (False, True):
            for seed in report.seeds:
                data = [f"data.augment={str(augment).lower()}", f"data.train_fraction={fraction}", f"data.seed={seed}"]
                data += small_batch(fraction)
                overrides = ["model=cnn", *data, f"seed={seed}", f"trainer.max_epochs={epochs}"]
                run = report.fit(overrides, report.runs() / f"cnn_{fraction}_{augment}_{seed}", figures=False)
                acc.setdefault((fraction, augment), []).append(run.metrics["test/acc"])
    gain = {f: mean(acc[f, True]) - mean(acc[f, False]) for f in fractions}
    report.text(
        "## Less data: augmentation",
        "The CNN on a share of the digits' training split, with and without shifted copies (`data.augment`, "
        "moves of up to one pixel), tested on the whole test split.",
    )
    rows = [[f"{f:.0%}", band(acc[f, False]), band(acc[f, True]), f"{gain[f]:+.4f}"] for f in fractions]
    report.table(["share of the training data", "without augmentation", "with", "gain"], rows)
    report.verdict(
        "augmentation matters most when data is scarce (its gain at the smallest share is larger than with all of "
        "the data)",
        gain[fractions[0]] > gain[fractions[-1]],
        ", ".join(f"gain {gain[f]:+.4f} at {f:.0%}" for f in fractions) + f" (means over {len(report.seeds)} seeds)",
        key="augmentation_scarce",
    )


def fine_tune(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> torch.nn.Module:
    """Full-batch Adam on the few examples (they are 50: one batch)."""
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    return net.eval()


def transfer(report: Report, epochs: int) -> None:
    from datamodules.digits import DigitsDataModule

    steps = {"smoke": 5, "default": 200, "paper": 200}[report.scale]
    acc = {"fine-tuned from digits 0-4": [], "from scratch": []}
    for seed in report.seeds:
        run = report.fit(["model=cnn", "data.classes=[0,1,2,3,4]", f"seed={seed}", f"trainer.max_epochs={epochs}"],
                         report.runs() / f"cnn_0to4_{seed}", figures=False)  # fmt: skip
        new = DigitsDataModule(classes=[5, 6, 7, 8, 9], seed=seed).load()
        g = torch.Generator().manual_seed(seed)
        few = torch.cat([torch.nonzero(new["train"].y == c)[:, 0][torch.randperm(int((new["train"].y == c).sum()),
                         generator=g)[:SHOTS]] for c in range(5, 10)])  # fmt: skip
        x, y = new["train"].x[few], new["train"].y[few]
        pretrained = copy.deepcopy(run.model.net)
        torch.manual_seed(seed)
        pretrained.head[-1].reset_parameters()  # a new read-out for the new classes
        scratch = copy.deepcopy(run.model.net)
        torch.manual_seed(seed)
        for module in scratch.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
        for label, net in (("fine-tuned from digits 0-4", pretrained), ("from scratch", scratch)):
            fine_tune(net, x, y, steps)
            with torch.no_grad():
                predicted = net(new["test"].x).argmax(1)
            acc[label].append(float((predicted == new["test"].y).float().mean()))
    report.text(
        "## Less data: transfer",
        f"A CNN trained on digits 0-4 (`data.classes=[0,1,2,3,4]`, {epochs} epochs) gets a new read-out layer and "
        f"is fine-tuned on {SHOTS} examples of each of the digits 5-9 ({steps} full-batch Adam steps); the same "
        "CNN from a fresh initialisation gets the same steps. Both are tested on every test image of 5-9.",
    )
    report.table(["CNN", f"test accuracy on 5-9 after {SHOTS} examples each"], [[k, band(v)] for k, v in acc.items()])
    tuned, scratch = acc["fine-tuned from digits 0-4"], acc["from scratch"]
    report.verdict(
        "learning with less data: features learned on other classes transfer (fine-tuned beats from scratch with "
        f"{SHOTS} examples per class)",
        mean(tuned) > mean(scratch),
        f"fine-tuned {band(tuned)}, from scratch {band(scratch)}",
        key="transfer",
    )


def structure_search(report: Report, trials: int, epochs: int) -> None:
    """Network structure selection: the CNN's Optuna search (configs/hparams_search/cnn_digits.yaml: width of the
    fully connected layer, batch norm, dropout, learning rate), then its best and the default retrained per seed."""
    import subprocess
    import sys

    import yaml

    sweep = report.runs() / "search"
    command = [sys.executable, "-m", "zoo", "train", "-m", "hparams_search=cnn_digits", "trainer=cpu",
               f"hydra.sweeper.n_trials={trials}", f"hydra.sweep.dir={sweep}", "extras.print_config=false",
               f"trainer.max_epochs={epochs}"]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, text=True)
    best = yaml.safe_load((sweep / "best.yaml").read_text())
    searched = [o for o in best["best_overrides"] if o.startswith("model.")]
    acc = {"default": [], "searched": []}
    for seed in report.seeds:
        for label, extra in (("default", []), ("searched", searched)):
            overrides = ["model=cnn", *extra, f"trainer.max_epochs={epochs}", f"seed={seed}"]
            acc[label].append(report.train(overrides, report.runs() / f"cnn_{label}_{seed}", False)["test/acc"])
    report.text(
        "## Network structure selection",
        f"`python train.py -m hparams_search=cnn_digits hydra.sweeper.n_trials={trials}` (Optuna's TPE over the "
        f"CNN's fully connected width, batch norm, dropout and learning rate, on validation accuracy); its best, "
        f"`{' '.join(searched)}`, and the default retrained for {epochs} epochs (the search's too), seeds "
        f"{', '.join(map(str, report.seeds))}.",
    )
    report.table(["CNN", "test accuracy"], [[k, band(v)] for k, v in acc.items()])
    report.verdict(
        f"selecting the structure by search beats the default (the best of {trials} trials has the higher mean "
        "test accuracy)",
        mean(acc["searched"]) > mean(acc["default"]),
        f"searched {band(acc['searched'])}, default {band(acc['default'])}; best validation {best['best_value']:.4f}",
        key="structure_search",
    )


def main(scale: str) -> None:
    report = Report("future", "Open questions, measured small: depth, the loss surface, less data", scale)
    epochs = {"smoke": 1, "default": 15, "paper": 60}[scale]
    runs = depth_sweep(report, epochs)
    geometry(report, epochs, runs, steps={"smoke": 5, "default": 21, "paper": 41}[scale])
    augmentation_curves(report, {"smoke": 1, "default": 30, "paper": 60}[scale])
    transfer(report, epochs)
    structure_search(report, trials={"smoke": 1, "default": 20, "paper": 50}[scale], epochs=max(epochs, 1))
    report.write()
