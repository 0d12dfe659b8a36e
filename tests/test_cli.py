"""train.py and evaluate.py as a user types them: help, overrides, sweeps and clear failures."""

import json
import re

import pytest
from omegaconf import OmegaConf

from tests.conftest import ROOT, run_cli

QUICK = ["trainer=cpu", "callbacks=none", "trainer.max_epochs=2"]


def test_help_lists_the_config_groups():
    result = run_cli("train.py", "--help")
    assert result.returncode == 0
    for group in ("model:", "data:", "trainer:", "callbacks:", "logger:", "experiment:"):
        assert group in result.stdout
    assert "perceptron" in result.stdout and "ddp_cpu" in result.stdout


def test_train_then_evaluate_print_the_same_test_accuracy(tmp_path):
    run = tmp_path / "run"
    trained = run_cli("train.py", *QUICK, "model=perceptron", "data=moons", f"hydra.run.dir={run}")
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert (run / "decision_boundary.png").is_file() and (run / ".hydra" / "config.yaml").is_file()
    evaluated = run_cli("evaluate.py", f"ckpt_path={run}/checkpoints/best.ckpt", f"hydra.run.dir={tmp_path}/eval")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    train_acc = json.loads((run / "metrics.json").read_text())["test/acc"]
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["test/acc"] == train_acc
    assert re.search(r"test/acc\s*│\s*" + re.escape(f"{train_acc:.4g}"), evaluated.stdout)


@pytest.mark.slow  # the default suite sweeps in test_run_folders.py
def test_a_sweep_over_activations_runs_each(tmp_path):
    result = run_cli(
        "train.py",
        "-m",
        *QUICK,
        "trainer.max_epochs=1",
        "model.activation=sigmoid,tanh,relu",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    chosen = [OmegaConf.load(tmp_path / str(i) / ".hydra" / "overrides.yaml")[-1] for i in range(3)]
    assert chosen == ["model.activation=sigmoid", "model.activation=tanh", "model.activation=relu"]
    assert all((tmp_path / str(i) / "metrics.json").is_file() for i in range(3))


def test_hydras_refusals_are_sentences_that_say_what_works():
    """What Hydra refuses before the zoo sees the command line: an unknown preset, a typo, a sweep without -m."""
    from zoo.composing import presets

    first_two = ", ".join(sorted(presets("model"))[:2])
    for args, sentence in (
        (["model=transformer"], f"error: model=transformer is not a preset of model; choose one of {first_two}, "),
        (["model.activaton=tanh"], "error: model.activaton is not a key of model; did you mean model.activation?"),
        (["model.activation=tanh,relu"], "error: model.activation=tanh,relu gives several values: add -m"),
        (["model.depth=["], "error: the override 'model.depth=[' cannot be read"),
    ):
        result = run_cli("train.py", *args)
        assert result.returncode == 2 and result.stderr.startswith(sentence), (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_missing_checkpoint_is_one_sentence(tmp_path):
    result = run_cli("evaluate.py", f"ckpt_path={tmp_path}/nope.ckpt", f"hydra.run.dir={tmp_path}/eval")
    assert result.returncode == 2
    assert f"error: checkpoint {tmp_path}/nope.ckpt does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_slurm_launcher_config_composes():
    from zoo.composing import compose

    cfg = compose("train", ["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.nodes=2"])
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    assert cfg.hydra.launcher.partition == "gpu" and cfg.hydra.launcher.nodes == 2


@pytest.mark.parametrize("preset", sorted(p.stem for p in (ROOT / "configs" / "experiment").glob("*.yaml")))
def test_every_experiment_preset_composes(compose_train, preset):
    cfg = compose_train(f"experiment={preset}").cfg
    assert cfg.model._target_ and cfg.data._target_ and cfg.trainer.max_epochs >= 1


def test_a_run_ended_by_max_steps_tests_the_weights_of_its_last_step(compose_train, tmp_path):
    import torch

    from zoo.run import train

    # digits: 20 batches of 64 per epoch, so 30 steps end in the middle of the second epoch
    metrics = train(compose_train("trainer.max_epochs=100", "trainer.max_steps=30"))
    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", weights_only=True)
    assert metrics["train_steps"] == best["global_step"] == 30
    # within the first epoch too, where trainer.min_epochs=1 would hold the stop (and so the validation) back
    first = train(
        compose_train(
            "callbacks=default",
            "callbacks.progress_bar=null",
            "callbacks.early_stopping.check_on_train_epoch_end=null",
            "trainer.max_steps=5",
            output_dir=tmp_path / "one",
        )
    )
    assert first["train_steps"] == 5 and "val/loss" in first
