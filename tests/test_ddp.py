"""Distributed data parallel on the CPU: two gloo processes behave like one with the same global batch."""

import json

import pytest

from tests.conftest import run_cli

COMMON = ["callbacks=none", "trainer.max_epochs=10", "model.width=128"]


@pytest.mark.slow  # DDP in the default suite: the GAN test
def test_two_processes_match_one_with_the_same_global_batch(tmp_path):
    single = run_cli("train.py", "trainer=cpu", "data.batch_size=64", *COMMON, f"hydra.run.dir={tmp_path}/single")
    assert single.returncode == 0, single.stderr[-2000:]
    ddp = run_cli(
        "train.py",
        "trainer=ddp_cpu",
        "trainer.devices=2",
        "data.batch_size=32",
        *COMMON,
        f"hydra.run.dir={tmp_path}/ddp",
    )
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    ddp_metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert ddp_metrics["world_size"] == 2  # really two processes (the run's log is the first one's alone)
    one = json.loads((tmp_path / "single" / "metrics.json").read_text())
    two = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert two["world_size"] == 2 and one["world_size"] == 1
    # the shuffling differs (DistributedSampler), so the runs agree to a tolerance, not bit for bit
    assert abs(two["test/acc"] - one["test/acc"]) < 0.03
    assert abs(two["test/loss"] - one["test/loss"]) < 0.1
    assert sorted(p.name for p in (tmp_path / "ddp").rglob("metrics.json")) == ["metrics.json"]  # one, by rank 0
    # a checkpoint written under DDP loads in one process
    evaluated = run_cli("evaluate.py", f"ckpt_path={tmp_path}/ddp/checkpoints/best.ckpt", f"hydra.run.dir={tmp_path}/e")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads((tmp_path / "e" / "metrics.json").read_text())["test/acc"] > 0.8


@pytest.mark.slow  # about 30 s
def test_a_sweep_under_ddp_finishes(tmp_path):
    result = run_cli(
        "train.py",
        "-m",
        "model.activation=relu,tanh",
        "trainer=ddp_cpu",
        "trainer.devices=2",
        "callbacks=none",
        "trainer.max_epochs=1",
        f"hydra.sweep.dir={tmp_path}",
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert all((tmp_path / str(i) / "metrics.json").is_file() for i in range(2))


@pytest.mark.slow  # about 40 s each
@pytest.mark.parametrize(
    "model, metric", [("segmenter", "test/miou"), ("detector", "test/map50"), ("captioner", "test/bleu4")]
)
def test_beyond_classification_metrics_gather_every_rank(model, metric, tmp_path):
    """mIoU, mAP and BLEU are not means of batch means: torchmetrics gathers their state from both ranks."""
    scenes = ["data=scenes", "data.train_size=128", "data.val_size=32", "data.test_size=64", "data.batch_size=32"]
    ddp = run_cli(
        "train.py",
        f"model={model}",
        *scenes,
        "trainer=ddp_cpu",
        "trainer.devices=2",
        "callbacks=none",
        "trainer.max_epochs=2",
        f"hydra.run.dir={tmp_path}/ddp",
    )
    assert ddp.returncode == 0, ddp.stderr[-2000:]
    trained = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    # the same weights evaluated in one process see the 64 test scenes once each, as the two ranks did together
    one = run_cli("evaluate.py", f"ckpt_path={tmp_path}/ddp/checkpoints/best.ckpt", f"hydra.run.dir={tmp_path}/e")
    assert one.returncode == 0, one.stderr[-2000:]
    assert json.loads((tmp_path / "e" / "metrics.json").read_text())[metric] == pytest.approx(trained[metric], abs=1e-4)
