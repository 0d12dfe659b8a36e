"""A run folder belongs to one run: refused when in use or taken, resumed only with a compatible config,
and its logs hold every epoch once however the run was stopped. A sweep goes on past a failed job."""

import csv
import json
import shutil
import signal
import time

import pytest

from tests.conftest import FAST, run_cli
from tests.test_reliability import SLOW_MLP, start_training, wait_for_epochs
from zoo.errors import UserError
from zoo.run import train
from zoo.starting import compose_run


def logged_epochs(run_dir) -> list[int]:
    """The epochs of the training rows of csv/metrics.csv (one per epoch fitted)."""
    with open(run_dir / "csv" / "metrics.csv", newline="") as file:
        return [int(float(row["epoch"])) for row in csv.DictReader(file) if row.get("train/loss")]


def test_a_folder_in_use_is_refused_at_once_and_left_alone(tmp_path):
    first = start_training(tmp_path)
    wait_for_epochs(tmp_path, 1)
    config = (tmp_path / ".hydra" / "config.yaml").read_text()
    second = run_cli("train.py", *FAST, "model.width=32", f"hydra.run.dir={tmp_path}")
    assert second.returncode == 2 and "is in use by a run that is still going" in second.stderr, second.stderr
    assert "Traceback" not in second.stderr
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err[-2000:]
    assert (tmp_path / ".hydra" / "config.yaml").read_text() == config
    assert logged_epochs(tmp_path) == list(range(6))


def test_a_finished_folder_is_kept_and_resume_compares_configs(tmp_path, capsys):
    def run(*overrides):
        return train(compose_run("train", [*FAST, *overrides], tmp_path))

    run("trainer.max_epochs=1")
    saved = {p: (tmp_path / p).read_bytes() for p in (".hydra/config.yaml", "metrics.json", "csv/metrics.csv")}
    with pytest.raises(UserError, match="already holds a run .*resume=true"):
        run("trainer.max_epochs=1")
    with pytest.raises(UserError, match="model.width: 512 -> 32"):
        run("trainer.max_epochs=2", "model.width=32", "resume=true")
    assert {p: (tmp_path / p).read_bytes() for p in saved} == saved  # nothing of the run was overwritten

    capsys.readouterr()
    assert run("trainer.max_epochs=2", "resume=true")["epochs"] == 2
    assert "with changes: resume, trainer.max_epochs" in capsys.readouterr().out
    assert json.loads((tmp_path / "metrics.json").read_text())["epochs"] == 2
    assert logged_epochs(tmp_path) == [0, 1]


def test_ctrl_c_saves_says_how_to_resume_and_the_log_holds_each_epoch_once(tmp_path):
    process = start_training(tmp_path)
    wait_for_epochs(tmp_path, 2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    hint = f"saved {tmp_path}/checkpoints/last.ckpt; resume with resume=true hydra.run.dir={tmp_path}"
    assert hint in err and "Traceback" not in err, err[-2000:]
    assert not (tmp_path / "metrics.json").exists()

    resumed = run_cli("train.py", *SLOW_MLP, "resume=true", f"hydra.run.dir={tmp_path}")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert logged_epochs(tmp_path) == list(range(6))


def test_a_sweep_goes_on_past_a_failed_job_and_says_which(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "train.py", "-m", *FAST, "trainer.max_epochs=1", "model.activation=tanh,bogus,relu", f"hydra.sweep.dir={sweep}"
    )
    assert result.returncode == 2
    assert "error: job 1 (" in result.stderr and "model.activation=bogus" in result.stderr
    assert "Traceback" not in result.stderr
    summary = json.loads((sweep / "summary.json").read_text())
    assert [job["status"] for job in summary] == ["completed", "failed", "completed"]
    assert "model.activation" in summary[1]["error"]
    assert (sweep / "2" / "metrics.json").is_file()  # the job after the failed one ran


@pytest.mark.slow  # 30 s; the default suite checks the CSV after Ctrl-C and a resume
def test_logs_hold_each_epoch_once_when_a_resume_repeats_logged_epochs(tmp_path):
    """A run killed after logging an epoch whose checkpoint it did not keep: that epoch is logged again, once."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    process = start_training(tmp_path, "logger=many")
    wait_for_epochs(tmp_path, 2)
    kept = tmp_path / "epoch1.ckpt"
    shutil.copy(tmp_path / "checkpoints" / "last.ckpt", kept)  # the state at the end of epoch 1
    while 2 not in logged_epochs(tmp_path):  # epoch 2 is in the logs
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    (tmp_path / "checkpoints" / "last.ckpt").unlink()
    shutil.copy(kept, tmp_path / "checkpoints" / "last.ckpt")  # as if epoch 2 had been logged but not saved

    resumed = run_cli("train.py", *SLOW_MLP, "logger=many", "resume=true", f"hydra.run.dir={tmp_path}")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert logged_epochs(tmp_path) == list(range(6))
    events = EventAccumulator(str(tmp_path / "tensorboard")).Reload()
    steps = [event.step for event in events.Scalars("train/loss")]
    assert len(steps) == len(set(steps)) == 6, steps


@pytest.mark.slow  # 18 s of two processes
def test_a_folder_left_by_a_refused_command_line_can_be_used_again(tmp_path):
    refused = run_cli("train.py", *FAST, "model.width=wide", f"hydra.run.dir={tmp_path}")
    assert refused.returncode == 2 and "model.width must be int" in refused.stderr
    fixed = run_cli("train.py", *FAST, "trainer.max_epochs=1", f"hydra.run.dir={tmp_path}")
    assert fixed.returncode == 0, fixed.stderr[-2000:]


def test_tensorboard_shows_the_run_folders_pictures_and_the_config_beside_the_final_metrics(compose_train, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from zoo.run import train

    overrides = ["model=gan", "data=ring", "data.n_samples=1000", "trainer.max_epochs=2", "logger=tensorboard"]
    metrics = train(compose_train(*overrides, output_dir=tmp_path))
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert "figures/samples" in events.Tags()["images"]  # the run folder's samples.png
    by_epoch = [image.step for image in events.Images("figures/samples_by_epoch")]  # samples/epoch_*.png
    assert len(by_epoch) == 2 and by_epoch[0] < by_epoch[1]
    assert "_hparams_/session_start_info" in events.PluginTagToContent("hparams")
    assert events.Scalars("hp/test/fd")[-1].value == pytest.approx(metrics["test/fd"])
