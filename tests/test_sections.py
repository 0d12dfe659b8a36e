"""Lecture sections end to end at the smoke scale, and the from-scratch backprop as a unit test."""

import pytest

from sections import bp_equations as backprop


@pytest.mark.parametrize("sizes", [[3, 5, 2], [4, 8, 8, 8, 3]])
def test_bp1_to_bp4_equal_autograd(sizes):
    assert backprop.compare_with_autograd(sizes) < 1e-10


def test_gradient_descent_with_backprop_lowers_the_cost():
    import torch

    weights, biases = backprop.init_network([2, 6, 1], seed=3)
    x = torch.randn(2, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    costs = backprop.gradient_descent(weights, biases, x, (x[:1] > 0).double(), lr=2.0, steps=30)
    assert costs[-1] < costs[0]


SLOW = pytest.mark.slow  # a minute or more each at smoke scale


@pytest.mark.parametrize(
    "name",
    ["perceptron", "backprop", "cnn", "rnn"]
    + [pytest.param(n, marks=SLOW) for n in ("gd", "resnet", "generative", "beyond")],
)
def test_each_section_writes_its_report(name, tmp_path, monkeypatch):
    writes_its_report(name, tmp_path, monkeypatch)


def writes_its_report(name, tmp_path, monkeypatch):
    """The section at the smoke scale: a report with a table, its pictures and undecided verdicts."""
    import importlib

    monkeypatch.setenv("ZOO_REPORTS", str(tmp_path))
    importlib.import_module(f"sections.{name}").main("smoke")
    text = (tmp_path / f"{name}.md").read_text()
    assert "| " in text and ".png)" in text and "## Verdicts" in text
    verdicts = [line for line in text.splitlines() if line.startswith("- **")]
    assert verdicts and all("the smoke scale cannot decide this claim, `SCALE=default` does (" in v for v in verdicts)
    assert all(
        (tmp_path / name / line.split("(")[-1].rstrip(")").split("/")[-1]).is_file()
        for line in text.splitlines()
        if line.startswith("![")
    )


def test_resnet_section_at_paper_scale_runs_the_papers_recipes():
    from sections.common import TRAINER
    from sections.resnet import degradation_runs, odenet_runs
    from zoo.composing import compose

    def composed(overrides):  # as Report.train composes them at the paper scale
        return compose("train", ["callbacks=none", TRAINER["paper"], *overrides])

    for (model, depth, _), overrides in degradation_runs("paper", None).items():
        cfg = composed(overrides)
        assert cfg.data._target_.endswith("CIFAR10DataModule") and cfg.model._target_.endswith("ResNet")
        assert cfg.model.depth == depth and cfg.model.shortcuts == (model == "resnet")
        assert cfg.trainer.max_steps == 64000 and cfg.model.optimizer.lr == 0.1 and cfg.data.batch_size == 128
    for overrides in odenet_runs("paper", None).values():
        cfg = composed(overrides)
        assert cfg.data._target_.endswith("MNISTDataModule") and cfg.trainer.max_epochs == 160
    assert composed(odenet_runs("paper", None)["RK-Net (rk4, backprop)"]).model.solver == "rk4"
    assert degradation_runs("default", 15)["resnet", 56, True] == [
        "model=resnet",
        "model.depth=56",
        "model.zero_init_residual=true",
        "trainer.max_epochs=15",
        "data.augment=false",
    ]


def test_every_section_module_is_listed_once_and_make_runs_each():
    import importlib
    import subprocess

    from sections import SECTIONS
    from tests.conftest import ROOT

    modules = {p.stem for p in (ROOT / "sections").glob("*.py") if not p.stem.startswith("_")}
    with_main = {m for m in modules if hasattr(importlib.import_module(f"sections.{m}"), "main")}
    assert with_main == set(SECTIONS)
    listed = subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", "section-list"], cwd=ROOT, capture_output=True, text=True
    )
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [f"section-{n}" for n in SECTIONS]
    dry = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "section-imagenet", "SCALE=smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "-m sections imagenet --scale smoke" in dry.stdout
