"""Faults a user meets: crashes, preemption, NaNs, bad input, unsafe checkpoints; and reproducibility."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT, run_cli
from zoo.errors import UserError
from zoo.run import evaluate, prepare, train
from zoo.run_folder import RunFolder
from zoo.starting import compose_run

# its tests share module fixtures: one worker runs them all (pytest-xdist --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_reliability")

# ~0.5 s per epoch on 2 cores (batch 4): long enough to be killed in the middle of one
SLOW_MLP = ["trainer=cpu", "callbacks=none", "model.width=64", "data.batch_size=8", "trainer.max_epochs=6"]


def start_training(run_dir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *SLOW_MLP, f"hydra.run.dir={run_dir}", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_epochs(run_dir: Path, epochs: int, timeout: float = 120) -> None:
    """Block until the CSV log shows `epochs` finished validation passes."""
    log = run_dir / "csv" / "metrics.csv"
    deadline = time.time() + timeout
    while time.time() < deadline:
        # the CSV row can land a moment before that epoch's last.ckpt is renamed into place
        if (
            log.is_file()
            and sum(1 for line in log.read_text().splitlines() if ",," not in line[:3]) > epochs
            and (run_dir / "checkpoints" / "last.ckpt").is_file()
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{log} did not reach {epochs} epochs")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The run the interrupted ones must end up identical to."""
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    done = run_cli("train.py", *SLOW_MLP, f"hydra.run.dir={run_dir}")
    assert done.returncode == 0, done.stderr[-2000:]
    return run_dir


@pytest.mark.slow  # about a minute each; resumed logs are in the default suite
@pytest.mark.parametrize("stop", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_a_run_stopped_in_the_middle_of_an_epoch_resumes_to_the_same_result(tmp_path, uninterrupted, stop):
    run_dir = tmp_path / "stopped"
    process = start_training(run_dir)
    wait_for_epochs(run_dir, 2)
    time.sleep(0.2)  # into the next epoch
    process.send_signal(getattr(signal, stop))
    process.communicate(timeout=120)
    assert process.returncode == {"SIGKILL": -signal.SIGKILL, "SIGTERM": 143, "SIGINT": 130}[stop]
    saved = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)  # whole, never truncated
    expected = json.loads((uninterrupted / "metrics.json").read_text())
    batches_per_epoch = expected["train_steps"] // expected["epochs"]
    # SIGKILL leaves the last finished epoch's checkpoint; SIGTERM and Ctrl-C save the step they stopped at
    assert (saved["global_step"] % batches_per_epoch == 0) == (stop == "SIGKILL"), saved["global_step"]

    resumed = run_cli("train.py", *SLOW_MLP, f"hydra.run.dir={run_dir}", "resume=true")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    got = json.loads((run_dir / "metrics.json").read_text())
    for key in ("test/acc", "test/loss", "val/loss", "epochs", "train_steps"):
        assert got[key] == expected[key], key
    from tests.test_run_folders import logged_epochs  # every epoch once, also those before the stop

    assert logged_epochs(run_dir) == logged_epochs(uninterrupted) == list(range(6))


def test_sigterm_saves_a_checkpoint_and_says_how_to_resume(tmp_path):
    process = start_training(tmp_path, "trainer.max_epochs=50")
    wait_for_epochs(tmp_path, 1)
    before = (tmp_path / "checkpoints" / "last.ckpt").stat().st_mtime
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err[-2000:]
    hint = f"SIGTERM: saved {tmp_path}/checkpoints/last.ckpt; resume with resume=true hydra.run.dir={tmp_path}"
    assert hint in err and "Traceback" not in err, err[-2000:]
    assert (tmp_path / "checkpoints" / "last.ckpt").stat().st_mtime > before
    assert not (tmp_path / "metrics.json").exists()  # a preempted run is not a finished one


@pytest.mark.parametrize(
    "override, sentence",
    [
        (
            "trainer.limit_val_batches=0.5",
            "trainer.limit_val_batches=0.5 keeps less than one of the 1 val batches; use a fraction >= 1",
        ),
        (
            "callbacks.model_checkpoint.filename=/elsewhere/best",
            "callbacks.model_checkpoint.filename must be a file name without '/'",
        ),
    ],
    ids=["val-fraction-under-one-batch", "checkpoint-name-with-folder"],
)
def test_options_only_the_data_or_the_file_system_can_refuse_are_sentences(compose_train, override, sentence):
    with pytest.raises(UserError, match=re.escape(sentence)):
        prepare(compose_train("callbacks=default", override))


def test_a_checkpoint_of_another_network_is_refused_before_training(compose_train, tmp_path):
    train(compose_train("trainer.max_epochs=1", output_dir=tmp_path / "mlp"))
    ckpt = tmp_path / "mlp" / "checkpoints" / "best.ckpt"
    with pytest.raises(UserError, match="holds another network than this run builds \\(model.width: 512 -> 32"):
        train(compose_train("model.width=32", f"ckpt_path={ckpt}", output_dir=tmp_path / "narrow"))
    with pytest.raises(UserError, match="model._target_: zoo.nets.mlp.MLP -> zoo.nets.cnn.CNN"):
        train(compose_train("model=cnn", f"ckpt_path={ckpt}", output_dir=tmp_path / "cnn"))
    assert not (tmp_path / "narrow" / "checkpoints").exists()


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(compose_train, tmp_path):
    with pytest.raises(UserError, match="the training loss became (nan|inf) at step \\d+ .*no checkpoint"):
        train(compose_train("model=perceptron", "model.optimizer.lr=1e38", "trainer.max_epochs=2"))
    # a good first epoch, then the learning rate jumps by 1e38: its checkpoint is named and kept
    cfg = compose_train(
        "model=perceptron",
        "model/scheduler=multistep",
        "model.scheduler.milestones=[1]",
        "model.scheduler.gamma=1e38",
        "trainer.max_epochs=3",
        output_dir=tmp_path / "jump",
    )
    with pytest.raises(
        UserError,
        match=f"epoch 1\\); training stopped and the last good checkpoint is {tmp_path}/jump/checkpoints/last.ckpt",
    ):
        train(cfg)
    kept = torch.load(tmp_path / "jump" / "checkpoints" / "last.ckpt", weights_only=True)
    assert kept["epoch"] == 0 and all(torch.isfinite(v).all() for v in kept["state_dict"].values())


def test_on_an_accelerator_the_nan_guard_reports_the_first_bad_step_when_it_looks():
    from types import SimpleNamespace

    from zoo.callbacks import FiniteLossGuard

    guard = FiniteLossGuard(check_every=3)
    trainer = SimpleNamespace(current_epoch=0, checkpoint_callbacks=[], default_root_dir="/nonexistent")
    for step, value in enumerate([1.0, 2.0, float("nan"), 3.0, float("inf")]):
        guard._remember(torch.tensor(value), step)  # what runs on the device, without a sync
    with pytest.raises(UserError, match="became nan at step 2 .*no checkpoint"):
        guard._check(trainer)


class WouldRunCode:
    """Unpickling this calls os.system: what a malicious checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_crafted_checkpoint_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"zoo": {}, "state_dict": {}, "payload": WouldRunCode(marker)}, tmp_path / "evil.ckpt")
    result = run_cli("evaluate.py", f"ckpt_path={tmp_path}/evil.ckpt", f"hydra.run.dir={tmp_path}/eval")
    assert result.returncode == 2
    assert "holds Python objects that could run code when loaded, so it was refused" in result.stderr
    assert not marker.exists()


@pytest.fixture
def trained_checkpoint(trained_mlp):
    return RunFolder(trained_mlp).best


def corrupt(path: Path, out: Path) -> Path:
    out.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    return out


def other_model(path: Path, out: Path) -> Path:
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["zoo"]["model"]["width"] = 48  # the spec now describes a different network
    torch.save(checkpoint, out)
    return out


@pytest.mark.parametrize(
    "make, sentence",
    [
        (corrupt, "is corrupt, truncated or not a checkpoint"),
        (other_model, "does not fit the model its spec describes"),
    ],
    ids=["truncated", "other-model"],
)
def test_bad_checkpoints_are_sentences(trained_checkpoint, tmp_path, make, sentence):
    bad = make(trained_checkpoint, tmp_path / "bad.ckpt")
    with pytest.raises(UserError, match=sentence) as refused:
        evaluate(compose_run("evaluate", [f"ckpt_path={bad}"], tmp_path / "eval"))
    assert "\n" not in str(refused.value)


def test_a_bad_checkpoint_on_the_command_line_is_one_sentence_and_exit_2(trained_checkpoint, tmp_path):
    bad = corrupt(trained_checkpoint, tmp_path / "bad.ckpt")
    result = run_cli("evaluate.py", f"ckpt_path={bad}", f"hydra.run.dir={tmp_path}/eval")
    assert result.returncode == 2 and "is corrupt, truncated or not a checkpoint" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr[-2000:]


@pytest.mark.slow  # the same refusal in one process: tests/test_train.py
def test_evaluating_on_data_of_another_shape_is_a_sentence(trained_checkpoint, tmp_path):
    result = run_cli("evaluate.py", f"ckpt_path={trained_checkpoint}", "data=moons", f"hydra.run.dir={tmp_path}/e")
    assert result.returncode == 2 and "pass a data preset with the same shape and classes" in result.stderr


BAD_INPUT = {  # id -> (arguments, exit status, the sentence)
    "unknown-data": (["data=imagenet"], 2, "data=imagenet is not a preset of data; choose one of breast_cancer, "),
    "wrong-type": (["model.depth=deep"], 2, "model.depth must be int (like its default 2), got 'deep'"),
    "impossible-pair": (
        ["model=cnn", "data=moons"],
        2,
        "model cnn needs images (channels x height x width) but the data gives examples of shape (2,); use data=digits",
    ),
    "batch-too-large": (["data.batch_size=5000"], 2, "data.batch_size=5000 is larger than the training split (1257"),
    "negative-lr": (["model.optimizer.lr=-1"], 2, "model.optimizer.lr must be a positive number, got -1"),
    "negative-epochs": (["trainer.max_epochs=-5"], 2, "trainer.max_epochs must be an integer >= 1, or -1 for no"),
    "no-gpu": (["trainer=gpu"], 2, "the trainer settings cannot be met on this machine"),
    "unwritable-output": (["hydra.run.dir=/proc/zoo-run"], 2, "cannot write the run folder /proc/zoo-run"),
    "unread-key": (
        ["+max_epoch=5"],
        2,
        "max_epoch is read by nothing here, so it would change nothing; did you mean trainer.max_epochs?",
    ),
    "number-for-an-entry": (
        ["model.scheduler=1000000000000"],
        2,
        "model.scheduler must be a config entry with a _target_",
    ),
    "number-for-a-group": (
        ["trainer=5"],
        2,
        "trainer=5 gives the group trainer no preset's name; choose one of cpu, ddp",
    ),
    "list-for-an-entry": (
        ["model.optimizer=[1,2]"],
        2,
        "model.optimizer is a config entry (a mapping of its keys), "
        "so a ListConfig cannot replace it; model/optimizer=<name> picks one of adam",
    ),
    "number-for-a-callback": (
        ["callbacks.model_checkpoint=7"],
        2,
        "callbacks.model_checkpoint must be a config entry with a _target_ (or null to leave it out), got 7",
    ),
    "missing-text": (
        ["model=lstm_lm", "data=text", "data.path=/nonexistent/corpus.txt"],
        2,
        "text file /nonexistent/corpus.txt does not exist",
    ),
}
AS_PROCESSES = ("unknown-data", "wrong-type", "unwritable-output")  # Hydra's, the options' and the launcher's exits


@pytest.mark.parametrize(
    "name", [n if n in AS_PROCESSES else pytest.param(n, marks=pytest.mark.slow) for n in BAD_INPUT]
)
def test_bad_input_is_one_sentence_and_a_nonzero_exit(tmp_path, name):
    args, code, sentence = BAD_INPUT[name]
    has_dir = any(a.startswith("hydra.run.dir") for a in args)
    result = run_cli("train.py", "trainer.max_epochs=1", *args, *([] if has_dir else [f"hydra.run.dir={tmp_path}"]))
    if "trainer=gpu" in args and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert result.returncode == code, result.stderr[-2000:]
    assert sentence in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "checkpoints").exists() or has_dir  # nothing half-made


@pytest.mark.parametrize("name", [n for n in BAD_INPUT if n not in AS_PROCESSES])
def test_bad_input_is_refused_before_any_step(compose_train, name):
    """The same sentences in one process (the slow test above sees each as a user's command line)."""
    args, _, sentence = BAD_INPUT[name]
    if "trainer=gpu" in args and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(UserError) as refused:
        train(compose_train(*args))
    assert sentence in str(refused.value)


@pytest.mark.parametrize(
    "overrides",
    [
        ["model=mlp", "trainer.max_epochs=2"],
        [
            "model=lstm_lm",
            "data=longrange",
            "data.distance=5",
            "data.train_sentences=300",
            "data.val_sentences=60",
            "data.test_sentences=60",
            "trainer.max_epochs=2",
        ],
    ],
    ids=["mlp", "lstm_lm"],
)
def test_the_same_seed_gives_identical_metrics(compose_train, tmp_path, overrides):
    first = train(compose_train(*overrides, output_dir=tmp_path / "a"))
    second = train(compose_train(*overrides, output_dir=tmp_path / "b"))
    for key in [k for k in first if k.startswith(("train/", "val/", "test/"))]:
        assert first[key] == second[key], key
    assert first["seed"] == 12345 and {"torch", "lightning", "hydra"} <= set(first)


@pytest.mark.parametrize(
    "content, sentence",
    [(b"  \n", "is empty; a language model needs text"), (b"\x00\x01\x02" * 50, "looks binary")],
    ids=["empty", "binary"],
)
def test_unusable_text_files_are_one_sentence(compose_train, tmp_path, content, sentence):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(content)
    with pytest.raises(UserError, match=sentence) as refused:
        train(compose_train("model=lstm_lm", "data=text", f"data.path={corpus}", output_dir=tmp_path / "run"))
    assert "\n" not in str(refused.value) and not (tmp_path / "run" / "checkpoints").exists()
