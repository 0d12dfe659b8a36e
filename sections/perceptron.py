"""Section "The structural building block": activations, perceptron vs deep net, universal approximation."""

from __future__ import annotations

import math

import torch

from sections.common import Report
from zoo import plots
from zoo.nets.mlp import MLP

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
    report.verdict("the slide's derivative formulas g' equal autograd's", worst < 1e-12, f"max error {worst:.1e}")


def boundaries(report: Report, epochs: int) -> None:
    rows, accuracy = [], {}
    for data in ("moons", "circles", "spirals"):
        for model in ("perceptron", "mlp"):
            run = report.runs() / f"{model}_{data}"
            extra = ["model.dropout=0.0", "model.width=64", "model.depth=3"] if model == "mlp" else []
            metrics = report.train([f"model={model}", f"data={data}", f"trainer.max_epochs={epochs}", *extra], run)
            accuracy[model, data] = metrics["test/acc"]
            rows.append([data, model, metrics["test/acc"], metrics["n_params"]])
            report.image(run / "decision_boundary.png", f"{model} on {data}: test accuracy {metrics['test/acc']:.3f}")
    report.text("## Perceptron vs deep MLP (decision boundaries above)")
    report.table(["data", "model", "test accuracy", "parameters"], rows)
    p, m = accuracy["perceptron", "circles"], accuracy["mlp", "circles"]
    report.verdict(
        "a single linear unit cannot separate the circles; a net with hidden layers can",
        p < 0.75 and m > 0.95,
        f"perceptron {p:.3f}, MLP {m:.3f} test accuracy",
    )


def universal_approximation(report: Report, steps: int) -> None:
    torch.manual_seed(0)
    x = torch.linspace(-math.pi, math.pi, 400).unsqueeze(1)
    y = torch.sin(x)
    rows, errors = [], []
    fig, ax = plots.figure(figsize=(5, 3.5))
    ax.plot(x, y, "k", lw=3, label="sin x")
    for width in (1, 2, 4, 8, 16, 32):
        net = MLP([1], 1, depth=1, width=width, activation="sigmoid", init="xavier")  # one hidden layer
        optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
        for _ in range(steps):
            loss = torch.nn.functional.mse_loss(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            fit = net(x)
        errors.append((fit - y).abs().max().item())
        rows.append([width, errors[-1], loss.item()])
        ax.plot(x, fit, label=f"width {width}")
    ax.legend(fontsize=7)
    path = plots.save_figure(fig, report.scratch("sine.png"))
    report.text("## Universal approximation: one hidden layer of sigmoid units fitting sin x on [-pi, pi]")
    report.table(["hidden units", "max |f(x) - sin x|", "final MSE"], rows)
    report.image(path, "fits of sin x by widening one-hidden-layer nets")
    report.verdict(
        "a one-hidden-layer net approximates a bounded continuous function better as it widens",
        errors[-1] < errors[0] / 10 and errors[-1] < 0.05,
        f"max error {errors[0]:.3f} with 1 unit, {errors[-1]:.4f} with 32",
    )


def main(scale: str) -> None:
    report = Report("perceptron", "The perceptron, activations and the universal approximation theorem", scale)
    activations(report)
    boundaries(report, epochs={"smoke": 2, "default": 60, "paper": 200}[scale])
    universal_approximation(report, steps={"smoke": 50, "default": 3000, "paper": 10000}[scale])
    report.write()
