"""The shared trainer end to end, in-process: losses fall, runs leave their folder, evaluate agrees."""

import csv
import json

import pytest

from tests.conftest import write_idx
from zoo.errors import UserError
from zoo.run import evaluate, train


def epoch_losses(run_dir):
    """train/loss per epoch from the CSV log the run wrote."""
    with open(run_dir / "csv" / "metrics.csv") as f:
        return [float(r["train/loss"]) for r in csv.DictReader(f) if r.get("train/loss")]


@pytest.mark.parametrize("model", ["perceptron", "mlp"])
@pytest.mark.parametrize("data", ["digits", "moons", "circles", "spirals", "ring"])
def test_each_classifier_learns_on_each_offline_set(compose_train, tmp_path, model, data):
    metrics = train(
        compose_train(
            f"model={model}",
            f"data={data}",
            "trainer.max_epochs=4",
            "data.n_samples=600" if data != "digits" else "data.batch_size=128",
        )
    )
    losses = epoch_losses(tmp_path)
    assert len(losses) == 4 and losses[-1] < losses[0]
    assert metrics["test/acc"] > 0.3


def test_run_folder_holds_everything(compose_train, tmp_path):
    metrics = train(compose_train("model=perceptron", "data=moons", "trainer.max_epochs=2"))
    for name in (
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
        "csv/metrics.csv",
        "metrics.json",
        "confusion_matrix.png",
        "decision_boundary.png",
    ):
        assert (tmp_path / name).is_file(), name
    saved = json.loads((tmp_path / "metrics.json").read_text())
    for key in (
        "train/loss",
        "val/acc",
        "test/acc",
        "test/loss",
        "n_params",
        "fit_seconds",
        "samples_per_second",
        "seed",
        "torch",
        "lightning",
        "hydra",
    ):
        assert key in saved, key
    assert saved["n_params"] == 2 * 2 + 2 == metrics["n_params"]  # w (2x2) + w0 (2)


def test_evaluate_reproduces_the_test_metrics_from_the_checkpoint(compose_train, tmp_path):
    trained = train(compose_train("trainer.max_epochs=3"))
    cfg = compose_train(f"ckpt_path={tmp_path}/checkpoints/best.ckpt", name="evaluate", output_dir=tmp_path / "eval")
    evaluated = evaluate(cfg)
    assert evaluated["test/acc"] == trained["test/acc"]
    assert evaluated["test/loss"] == pytest.approx(trained["test/loss"], rel=1e-6)
    assert (tmp_path / "eval" / "metrics.json").is_file()
    # data.* overrides apply on top of the checkpoint's data config
    cfg = compose_train(
        f"ckpt_path={tmp_path}/checkpoints/best.ckpt", "data.batch_size=7", name="evaluate", output_dir=tmp_path / "e7"
    )
    batch = evaluate(cfg)
    assert batch["test/acc"] == trained["test/acc"]


def test_evaluate_refuses_data_of_another_shape(compose_train, tmp_path):
    train(compose_train("model=perceptron", "data=moons", "trainer.max_epochs=1"))
    cfg = compose_train(
        f"ckpt_path={tmp_path}/checkpoints/best.ckpt", "data=digits", name="evaluate", output_dir=tmp_path / "eval"
    )
    with pytest.raises(UserError, match="was trained on other data .* input_shape \\(\\[2\\] vs \\[1, 8, 8\\]\\)"):
        evaluate(cfg)


def test_mlp_trains_on_mnist_files(compose_train, tmp_path):
    root = tmp_path / "data"
    write_idx(root / "MNIST" / "raw", n_train=200, n_test=50)
    metrics = train(
        compose_train(
            "data=mnist",
            f"data.root={root}",
            "data.download=false",
            "data.val_size=40",
            "data.batch_size=32",
            "trainer.max_epochs=5",
        )
    )
    assert metrics["test/acc"] > 0.5  # the bright squares are easy


def test_impossible_values_fail_before_training(compose_train):
    with pytest.raises(UserError, match="model.optimizer.lr must be a positive number, got -0.1"):
        train(compose_train("model.optimizer.lr=-0.1"))
    with pytest.raises(UserError, match="trainer.max_epochs must be an integer >= 1"):
        train(compose_train("trainer.max_epochs=0"))


def test_progress_bar_reaches_the_last_batch_and_shows_epoch_metrics(compose_train):
    import lightning as L

    from zoo.build import build_datamodule, build_model
    from zoo.callbacks import EpochProgressBar

    cfg = compose_train().cfg
    L.seed_everything(0, verbose=False)
    data = build_datamodule(cfg.data)
    bar = EpochProgressBar(refresh_rate=7)  # 20 batches an epoch: not a multiple of the refresh rate
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=2,
        callbacks=[bar],
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    trainer.fit(build_model(cfg.model, data.description), datamodule=data)
    task = bar.progress.tasks[bar.train_progress_bar_id]
    assert task.completed == task.total == trainer.num_training_batches
    shown = bar._metric_component._metrics
    assert {"train/loss", "train/acc", "val/loss", "val/acc"} <= set(shown)
    assert shown["train/loss"] == pytest.approx(trainer.callback_metrics["train/loss"].item())
