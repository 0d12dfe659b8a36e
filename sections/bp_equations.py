"""Backpropagation from the four fundamental equations, with plain tensors and no autograd.

Slides "Notations" to "Back Propagation procedure". For layers l = 2..L:
    z^l = w^l a^{l-1} + b^l,   a^l = sigma(z^l)                          (feedforward)
    delta^L = grad_a C (.) sigma'(z^L)                                    (BP1)
    delta^l = ((w^{l+1})^T delta^{l+1}) (.) sigma'(z^l)                  (BP2)
    dC/db^l_j = delta^l_j                                                 (BP3)
    dC/dw^l_jk = a^{l-1}_k delta^l_j                                      (BP4)
with the quadratic cost C = 1/(2n) sum_x ||y(x) - a^L(x)||^2 over a batch of n examples (so the
per-example gradients of BP3/BP4 are averaged). Examples are columns, as in the slides.
"""

from __future__ import annotations

import torch


def sigmoid(z: torch.Tensor) -> torch.Tensor:
    return 1.0 / (1.0 + torch.exp(-z))


def sigmoid_prime(z: torch.Tensor) -> torch.Tensor:
    s = sigmoid(z)
    return s * (1 - s)  # slide: g'(z) = g(z)(1 - g(z))


def init_network(sizes: list[int], std: float = 1.0, seed: int = 0, dtype=torch.float64):
    """Weights ~ N(0, std^2) (slide "Gradient Descent", step 1); biases too. w^l has shape (n_l, n_{l-1})."""
    g = torch.Generator().manual_seed(seed)
    weights = [torch.randn(n_out, n_in, generator=g, dtype=dtype) * std for n_in, n_out in zip(sizes, sizes[1:])]
    biases = [torch.randn(n_out, 1, generator=g, dtype=dtype) * std for n_out in sizes[1:]]
    return weights, biases


def quadratic_cost(weights, biases, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """C = 1/(2n) sum ||y - a^L||^2; x is (n_1, n), y is (n_L, n)."""
    a = x
    for w, b in zip(weights, biases):
        a = sigmoid(w @ a + b)
    return ((y - a) ** 2).sum() / (2 * x.shape[1])


def backprop(weights, biases, x: torch.Tensor, y: torch.Tensor):
    """Gradients (dC/dw^l, dC/db^l) for every layer, by BP1-BP4."""
    n = x.shape[1]
    activations, zs = [x], []
    for w, b in zip(weights, biases):  # 2. feedforward, remembering every z^l and a^l
        zs.append(w @ activations[-1] + b)
        activations.append(sigmoid(zs[-1]))
    grad_w = [torch.zeros_like(w) for w in weights]
    grad_b = [torch.zeros_like(b) for b in biases]
    delta = (activations[-1] - y) / n * sigmoid_prime(zs[-1])  # BP1: grad_a C = (a^L - y)/n
    grad_b[-1] = delta.sum(1, keepdim=True)  # BP3
    grad_w[-1] = delta @ activations[-2].T  # BP4: sum over examples of delta_j a_k
    for l in range(2, len(weights) + 1):  # 4. backpropagate the error
        delta = (weights[-l + 1].T @ delta) * sigmoid_prime(zs[-l])  # BP2
        grad_b[-l] = delta.sum(1, keepdim=True)  # BP3
        grad_w[-l] = delta @ activations[-l - 1].T  # BP4
    return grad_w, grad_b


def gradient_descent(weights, biases, x, y, lr: float, steps: int) -> list[float]:
    """W <- W - lr dC/dW with the from-scratch gradients; returns the cost before each step and at the end."""
    costs = []
    for _ in range(steps):
        costs.append(quadratic_cost(weights, biases, x, y).item())
        grad_w, grad_b = backprop(weights, biases, x, y)
        weights = [w - lr * gw for w, gw in zip(weights, grad_w)]
        biases = [b - lr * gb for b, gb in zip(biases, grad_b)]
    costs.append(quadratic_cost(weights, biases, x, y).item())
    return costs


def compare_with_autograd(sizes: list[int], n: int = 16, seed: int = 0) -> float:
    """Max relative error between BP1-BP4 gradients and torch.autograd's, in float64."""
    weights, biases = init_network(sizes, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(sizes[0], n, generator=g, dtype=torch.float64)
    y = torch.rand(sizes[-1], n, generator=g, dtype=torch.float64)
    grad_w, grad_b = backprop(weights, biases, x, y)
    params = [p.clone().requires_grad_(True) for p in weights + biases]
    cost = quadratic_cost(params[: len(weights)], params[len(weights) :], x, y)
    auto = torch.autograd.grad(cost, params)
    errors = [
        ((mine - theirs).abs().max() / theirs.abs().max().clamp_min(1e-300)).item()
        for mine, theirs in zip(grad_w + grad_b, auto)
    ]
    return max(errors)
