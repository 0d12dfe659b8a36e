"""Lecture sections end to end at the smoke scale, and the from-scratch backprop as a unit test."""
import pytest

from zoo import backprop


@pytest.mark.parametrize("sizes", [[3, 5, 2], [4, 8, 8, 8, 3]])
def test_bp1_to_bp4_equal_autograd(sizes):
    assert backprop.compare_with_autograd(sizes) < 1e-10


def test_gradient_descent_with_backprop_lowers_the_cost():
    import torch

    weights, biases = backprop.init_network([2, 6, 1], seed=3)
    x = torch.randn(2, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    costs = backprop.gradient_descent(weights, biases, x, (x[:1] > 0).double(), lr=2.0, steps=30)
    assert costs[-1] < costs[0]


@pytest.mark.parametrize("name", ["perceptron", "backprop", "gd", "cnn", "resnet", "rnn", "generative"])
def test_each_section_writes_its_report(name, tmp_path, monkeypatch):
    import importlib

    monkeypatch.setenv("ZOO_REPORTS", str(tmp_path))
    importlib.import_module(f"sections.{name}").main("smoke")
    text = (tmp_path / f"{name}.md").read_text()
    assert "| " in text and ".png)" in text and "## Verdicts" in text
    assert ("holds (" in text or "does not hold here (" in text) and all((tmp_path / name / line.split("(")[-1].rstrip(")").split("/")[-1]).is_file()
                                     for line in text.splitlines() if line.startswith("!["))
