"""Section "Back Propagation": BP1-BP4 from scratch against autograd, and gradient descent with them."""

from __future__ import annotations

import torch

from sections import bp_equations as backprop
from sections.common import Report
from zoo import plots


def main(scale: str) -> None:
    report = Report("backprop", "Backpropagation with the four fundamental equations", scale)
    nets = [[4, 8, 3], [4, 16, 16, 3], [8, 32, 32, 32, 32, 4]]
    rows = [[" x ".join(map(str, sizes)), len(sizes) - 1, backprop.compare_with_autograd(sizes)] for sizes in nets]
    report.text("## BP1-BP4 against torch.autograd (sigmoid MLPs, quadratic cost, float64, 16 examples)")
    report.table(["layer sizes", "weight layers", "max relative error"], rows)
    worst = max(r[2] for r in rows)
    report.verdict(
        "BP1-BP4 give the gradient of the cost",
        worst < 1e-10,
        f"max relative error {worst:.1e} vs autograd",
        key="bp_equations",
    )

    steps = {"smoke": 20, "default": 500, "paper": 5000}[scale]
    weights, biases = backprop.init_network([4, 16, 16, 3], seed=0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 64, generator=g, dtype=torch.float64)
    y = (torch.rand(3, 4, generator=g, dtype=torch.float64) @ x > 0).to(torch.float64)  # a learnable target
    costs = backprop.gradient_descent(weights, biases, x, y, lr=3.0, steps=steps)
    fig, ax = plots.figure(figsize=(5, 3.5))
    ax.plot(costs)
    ax.set(
        xlabel="gradient-descent step",
        ylabel="quadratic cost C",
        yscale="log",
        title="W <- W - eta dC/dW, gradients from BP1-BP4",
    )
    path = plots.save_figure(fig, report.scratch("cost.png"))
    report.text("## Gradient descent with the from-scratch gradients")
    report.table(["step", "cost"], [[i, costs[i]] for i in sorted({0, 1, steps // 10, steps // 2, steps})])
    report.image(path, "cost against steps")
    report.verdict(
        "gradient descent with these gradients reduces the cost",
        costs[-1] < costs[0] / 2,
        f"cost {costs[0]:.4f} -> {costs[-1]:.4f} in {steps} steps",
        key="gd_lowers_cost",
    )
    report.write()
