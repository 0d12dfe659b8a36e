"""Section "The structural building block": activations, perceptron vs deep net, universal approximation."""

from __future__ import annotations

import math

import torch

from sections.common import Report, band, mean
from zoo import plots
from zoo.nets.mlp import MLP, Perceptron

ACTIVATIONS = {  # the slide's g and its g' formula
    "sigmoid": (torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z))),
    "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
    "relu": (torch.relu, lambda z: (z > 0).to(z.dtype)),
}


def activations(report: Report) -> None:
    z = torch.linspace(-5, 5, 1001, dtype=torch.float64, requires_grad=True)
    rows, curves = [], {}
    for name, (g, formula) in ACTIVATIONS.items():
        (autograd,) = torch.autograd.grad(g(z).sum(), z)
        away_from_kink = z.detach().abs() > 1e-9  # ReLU has no derivative at exactly 0
        error = (autograd - formula(z.detach()))[away_from_kink].abs().max().item()
        rows.append([name, error])
        curves[name], curves[f"{name}'"] = g(z).detach().tolist(), autograd.tolist()
    fig, axes = plots.figure(1, 3, figsize=(11, 3))
    for ax, name in zip(axes, ACTIVATIONS):
        ax.plot(z.detach(), curves[name], label="g(z)")
        ax.plot(z.detach(), curves[f"{name}'"], label="g'(z)")
        ax.set(title=name, xlabel="z")
        ax.legend()
    path = plots.save_figure(fig, report.scratch("activations.png"))
    report.text("## Activation functions and their derivatives")
    report.table(["g", "max |autograd - slide formula|"], rows)
    report.image(path, "sigmoid, tanh and ReLU with their derivatives")
    worst = max(r[1] for r in rows)
    report.verdict(
        "the slide's derivative formulas g' equal autograd's",
        worst < 1e-12,
        f"max error {worst:.1e}",
        key="derivatives",
    )


def boundaries(report: Report, epochs: int) -> None:
    rows, accuracy = [], {}
    for data in ("moons", "circles", "spirals"):
        for model in ("perceptron", "mlp"):
            extra = ["model.dropout=0.0", "model.width=64", "model.depth=3"] if model == "mlp" else []
            for seed in report.seeds:
                run = report.runs() / f"{model}_{data}_{seed}"
                overrides = [f"model={model}", f"data={data}", f"trainer.max_epochs={epochs}", f"seed={seed}", *extra]
                metrics = report.train(overrides, run)
                accuracy.setdefault((model, data), []).append(metrics["test/acc"])
                if seed == report.seeds[0]:
                    report.image(
                        run / "decision_boundary.png", f"{model} on {data}: test accuracy {metrics['test/acc']:.3f}"
                    )
            rows.append([data, model, band(accuracy[model, data]), metrics["n_params"]])
    report.text(f"## Perceptron vs deep MLP (decision boundaries above; seeds {', '.join(map(str, report.seeds))})")
    report.table(["data", "model", "test accuracy", "parameters"], rows)
    p, m = accuracy["perceptron", "circles"], accuracy["mlp", "circles"]
    report.verdict(
        "a single linear unit cannot separate the circles; a net with hidden layers can (mean test accuracy "
        "< 0.75 and > 0.95)",
        mean(p) < 0.75 and mean(m) > 0.95,
        f"perceptron {band(p)}, MLP {band(m)} test accuracy",
        key="hidden_layers_separate",
    )


def universal_approximation(report: Report, steps: int) -> None:
    x = torch.linspace(-math.pi, math.pi, 400).unsqueeze(1)
    y = torch.sin(x)
    widths = (1, 2, 4, 8, 16, 32)
    errors = {w: [] for w in widths}
    fig, ax = plots.figure(figsize=(5, 3.5))
    ax.plot(x, y, "k", lw=3, label="sin x")
    for seed in report.seeds:
        for width in widths:
            torch.manual_seed(seed)
            net = MLP([1], 1, depth=1, width=width, activation="sigmoid", init="xavier")  # one hidden layer
            optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
            for _ in range(steps):
                loss = torch.nn.functional.mse_loss(net(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            with torch.no_grad():
                fit = net(x)
            errors[width].append((fit - y).abs().max().item())
            if seed == report.seeds[0]:
                ax.plot(x, fit, label=f"width {width}")
    ax.legend(fontsize=7)
    path = plots.save_figure(fig, report.scratch("sine.png"))
    report.text(
        "## Universal approximation: one hidden layer of sigmoid units fitting sin x on [-pi, pi]",
        f"{steps} full-batch Adam steps, seeds {', '.join(map(str, report.seeds))}.",
    )
    report.table(["hidden units", "max |f(x) - sin x|"], [[w, band(e)] for w, e in errors.items()])
    report.image(path, "fits of sin x by widening one-hidden-layer nets (first seed)")
    first, last = mean(errors[widths[0]]), mean(errors[widths[-1]])
    report.verdict(
        "a one-hidden-layer net approximates a bounded continuous function better as it widens (the mean max error "
        "of 32 units is under a tenth of 1 unit's and under 0.05)",
        last < first / 10 and last < 0.05,
        f"max error {band(errors[widths[0]])} with 1 unit, {band(errors[widths[-1]])} with 32",
        key="universal_approximation",
    )


def forward_equation(report: Report) -> None:
    """The zoo's perceptron against the slide's formula, computed by hand from its own weights."""
    torch.manual_seed(0)
    worst = 0.0
    for g_name, g in (("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("relu", torch.relu)):
        net = Perceptron([5], 1, activation=g_name)
        x = torch.randn(64, 5)
        w0, w = net.linear.bias, net.linear.weight[0]
        by_hand = g(w0 + x @ w)  # y_hat = g(w0 + x^T w)
        with torch.no_grad():
            worst = max(worst, (net(x)[:, 0] - by_hand).abs().max().item())
    report.verdict(
        "the perceptron computes y_hat = g(w0 + x^T w) (the zoo's unit against the formula, three g's)",
        worst < 1e-6,
        f"max difference {worst:.1e}",
        key="forward_equation",
    )


def nonlinearity(report: Report, epochs: int) -> None:
    """A deep net of identity units is one linear map: no better than the perceptron on the circles."""
    acc = {"perceptron": [], "MLP, 3 hidden layers of identity units": [], "MLP, 3 hidden layers of ReLU units": []}
    for seed in report.seeds:
        common = ["data=circles", f"trainer.max_epochs={epochs}", f"seed={seed}"]
        mlp = ["model=mlp", "model.depth=3", "model.width=64", "model.dropout=0.0", *common]
        runs = {"perceptron": ["model=perceptron", *common], "identity": [*mlp, "model.activation=identity"],
                "relu": [*mlp, "model.activation=relu"]}  # fmt: skip
        for label, (tag, overrides) in zip(acc, runs.items()):
            acc[label].append(report.train(overrides, report.runs() / f"linear_{tag}_{seed}", False)["test/acc"])
    report.text(
        "## Nonlinearity is needed",
        "The same deep MLP with g = identity and with g = ReLU, and the perceptron, on the circles "
        f"({epochs} epochs, seeds {', '.join(map(str, report.seeds))}).",
    )
    report.table(["model", "test accuracy"], [[k, band(v)] for k, v in acc.items()])
    perceptron, linear, relu = (mean(v) for v in acc.values())
    report.verdict(
        "without a nonlinear g, depth adds nothing (the identity MLP is within 0.05 of the perceptron, and 0.2 or "
        "more below the ReLU MLP)",
        abs(linear - perceptron) <= 0.05 and relu - linear >= 0.2,
        ", ".join(f"{k} {band(v)}" for k, v in acc.items()),
        key="nonlinearity_needed",
    )


def disk(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Points of the square [-1, 1]^2 and the indicator of the disk of radius 0.6: a function with a jump."""
    x = torch.rand(n, 2, generator=generator) * 2 - 1
    return x, (x.norm(dim=1, keepdim=True) < 0.6).float()


def two_hidden_layers(report: Report, steps: int) -> None:
    """One against two hidden layers of sigmoid units at the same number of parameters, on a disk's indicator."""
    nets = {
        "one hidden layer (84 units)": dict(depth=1, width=84),
        "two hidden layers (16 + 16 units)": dict(depth=2, width=16),
    }
    errors: dict[str, list[float]] = {k: [] for k in nets}
    sizes = {}
    for seed in report.seeds:
        g = torch.Generator().manual_seed(seed)
        (x, y), (x_test, y_test) = disk(2000, g), disk(4000, g)
        for label, shape in nets.items():
            torch.manual_seed(seed)
            net = MLP([2], 1, activation="sigmoid", init="xavier", **shape)
            sizes[label] = sum(p.numel() for p in net.parameters())
            optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
            for _ in range(steps):
                loss = torch.nn.functional.mse_loss(net(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            with torch.no_grad():
                errors[label].append(torch.nn.functional.mse_loss(net(x_test), y_test).item())
    report.text(
        "## Universal approximation (1): one or two hidden layers for a function with a jump",
        f"The indicator of a disk (1 inside radius 0.6, 0 outside) on [-1, 1]^2: 2,000 training points, 4,000 test "
        f"points, {steps} full-batch Adam steps, sigmoid units, seeds {', '.join(map(str, report.seeds))}.",
    )
    report.table(["net", "parameters", "test mean squared error"], [[k, sizes[k], band(v)] for k, v in errors.items()])
    one, two = (mean(v) for v in errors.values())
    report.verdict(
        "a net with two hidden layers approximates a discontinuous function better than one hidden layer with as "
        "many parameters",
        two < one,
        ", ".join(f"{k}: {band(v)}" for k, v in errors.items()),
        key="two_hidden_layers",
    )


def init_scale(report: Report, epochs: int) -> None:
    """W ~ N(0, sigma^2) at three sigmas (and Kaiming's) for a 6-layer tanh MLP: activations at the start, accuracy."""
    settings = {f"N(0, {s}^2)": ["model.init=normal", f"model.init_std={s}"] for s in (0.01, 0.1, 1.0)}
    settings["Kaiming (the zoo's default)"] = ["model.init=kaiming"]
    acc, spread = {k: [] for k in settings}, {}
    for seed in report.seeds:
        for label, init in settings.items():
            overrides = ["model=mlp", "model.depth=6", "model.width=128", "model.activation=tanh", "model.dropout=0.0"]
            overrides += [*init, f"trainer.max_epochs={epochs}", f"seed={seed}", "data.augment=false"]
            tag = init[-1].split("=")[-1]
            acc[label].append(report.train(overrides, report.runs() / f"init_{tag}_{seed}", False)["test/acc"])
            if seed == report.seeds[0]:
                spread[label] = activation_scales(init)
    report.text(
        "## Initialisation: W ~ N(0, sigma^2)",
        "A 6-hidden-layer MLP of 128 tanh units on digits: the standard deviation of each hidden layer's output "
        "at initialisation (a batch of 256 standardised digits), and the test accuracy after "
        f"{epochs} epochs (seeds {', '.join(map(str, report.seeds))}).",
    )
    report.table(["initialisation", "activation std, layers 1-6 at the start", "test accuracy"],
                 [[k, " ".join(f"{v:.2g}" for v in spread[k]), band(acc[k])] for k in settings])  # fmt: skip
    means = {k: mean(v) for k, v in acc.items()}
    report.verdict(
        "the sigma of the random initialisation decides whether a deep net learns (the best and the worst of "
        "sigma = 0.01, 0.1, 1 differ by 0.2 or more in test accuracy)",
        max(means.values()) - min(list(means.values())[:3]) >= 0.2,
        ", ".join(f"{k} {band(v)}" for k, v in acc.items()),
        key="init_scale",
    )


def activation_scales(init: list[str]) -> list[float]:
    from datamodules.digits import DigitsDataModule

    options = dict(o.removeprefix("model.").split("=") for o in init)
    torch.manual_seed(0)
    net = MLP([1, 8, 8], 10, depth=6, width=128, activation="tanh", init=options["init"],
              init_std=float(options.get("init_std", 0.01)))  # fmt: skip
    x = DigitsDataModule().load()["train"].x[:256].flatten(1)
    scales = []
    with torch.no_grad():
        for layer in net.layers:
            x = layer(x)
            if isinstance(layer, torch.nn.Tanh):
                scales.append(x.std().item())
    return scales


def main(scale: str) -> None:
    report = Report("perceptron", "The perceptron, activations and the universal approximation theorem", scale)
    activations(report)
    forward_equation(report)
    epochs = {"smoke": 2, "default": 60, "paper": 200}[scale]
    boundaries(report, epochs)
    nonlinearity(report, epochs)
    universal_approximation(report, steps={"smoke": 50, "default": 3000, "paper": 10000}[scale])
    two_hidden_layers(report, steps={"smoke": 50, "default": 3000, "paper": 10000}[scale])
    init_scale(report, epochs={"smoke": 1, "default": 20, "paper": 60}[scale])
    report.write()
