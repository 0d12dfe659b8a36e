"""Trust at the boundaries, as properties over generated inputs: a checkpoint is data, no finished run is ever
written into, every reader of a run folder is total, and every way out is one line.

Crafted checkpoints name callables outside the zoo (or interpolations) at every depth of their stored
config, for every reader of a checkpoint; finished run folders are damaged in every way a folder can be and
then used; sweeps are run twice into one folder; damaged files are given to every reader; signals arrive at
every phase and at random moments. Nothing outside the folders a command was given may change, and every
finished run stays byte-identical. The default suite runs a seeded sample of each kind, `make test-slow` all.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import threading
from pathlib import Path

import pytest
import torch

from tests.conftest import FAST, run_cli
from zoo import signals
from zoo.composing import compose
from zoo.errors import Interrupted, UserError
from zoo.run import evaluate, train
from zoo.starting import compose_run

# its tests share module fixtures: one worker runs them all (pytest-xdist --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_trust")

CALLABLES = ("builtins.open", "os.system", "shutil.rmtree", "subprocess.run", "pathlib.Path.write_text",
             "builtins.exec", "torch.save", "zoo.run.train", "zoo.nets.mlp.init_linear")  # fmt: skip
INTERPOLATIONS = ("${oc.env:HOME}", "${pixel_scaling:antigravity}", "${zoo_home:}")
MLP = ["model=mlp", "model.width=16", "data=digits"]
FLOW = ["model=realnvp", "data=digits", "model.hidden=8", "model.scales=1"]


def digest(folder: Path) -> dict[str, str]:
    """Every entry below a folder: a file by its bytes' hash, a folder, or a link by where it points."""
    out = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            out[key] = f"link {os.readlink(path)}"
        elif path.is_dir():
            out[key] = "folder"
        else:
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def one_sentence(err: BaseException) -> str:
    text = str(err)
    assert text and "\n" not in text, f"not one sentence: {text!r}"
    return text


@pytest.fixture(scope="module")
def runs(tmp_path_factory, trained_mlp) -> dict[str, Path]:
    """Finished runs to read (an MLP and a flow on digits), and an unfinished copy of the MLP's to resume."""
    root = tmp_path_factory.mktemp("runs")
    shutil.copytree(trained_mlp, root / "mlp", symlinks=True)
    train(compose_run("train", [*FAST, *FLOW, "trainer.max_epochs=1"], root / "flow"))
    shutil.copytree(root / "mlp", root / "paused", symlinks=True)
    (root / "paused" / "metrics.json").unlink()  # as if stopped after the fit: resume=true continues it
    return {"root": root, **{name: root / name for name in ("mlp", "flow", "paused")}}


# --- a checkpoint is data ------------------------------------------------------------------------------------
def positions(node, prefix: str):
    """Every mapping and every leaf of a stored config, by dotted path."""
    yield prefix, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from positions(value, f"{prefix}.{key}")


def set_at(spec: dict, path: str, value) -> dict:
    out = json.loads(json.dumps(spec))
    keys = path.split(".")
    node = out
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return out


def crafted_specs(spec: dict, marker: Path, rng: random.Random) -> list[tuple[str, dict]]:
    """Copies of a checkpoint's stored config, each naming code outside the zoo (or an interpolation) in one place."""
    payload = lambda name: {"_target_": name, "_args_": [str(marker), "w"]}  # noqa: E731
    out = []
    for part in ("model", "data", "description"):
        for path, node in positions(spec[part], part):
            name = rng.choice(CALLABLES)
            if path != part:
                out.append((f"{path} <- {name}(...)", set_at(spec, path, payload(name))))
                out.append((f"{path} <- interpolation", set_at(spec, path, rng.choice(INTERPOLATIONS))))
            if isinstance(node, dict):
                out.append((f"{path}._target_ <- {name}", set_at(spec, f"{path}._target_", name)))
                out.append((f"{path}.injected <- {name}(...)", set_at(spec, f"{path}.injected", payload(name))))
    out += [(f"model.learner <- {name}", set_at(spec, "model.learner", name)) for name in CALLABLES]
    return out


def read_by(reader: str, ckpt: Path, out: Path, runs: dict) -> None:
    """One reader of a checkpoint, as the command line or the Python API uses it."""
    from zoo import api

    if reader == "evaluate":
        evaluate(compose_run("evaluate", ["trainer=cpu", f"ckpt_path={ckpt}"], out))
    elif reader == "load":
        api.load(ckpt)
    elif reader == "ckpt_path":
        train(compose_run("train", [*FAST, *MLP, f"ckpt_path={ckpt}"], out))
    elif reader == "resume":
        shutil.copytree(runs["paused"], out)
        shutil.copy(ckpt, out / "checkpoints" / "last.ckpt")
        train(compose_run("train", [*FAST, *MLP, "trainer.max_epochs=1", "resume=true"], out))
    elif reader == "ood_background":
        flow = runs["flow"] / "checkpoints" / "best.ckpt"
        options = [f"ckpt_path={flow}", "ood=[noise]", "ood_scores=[ratio]", f"ood_background={ckpt}"]
        evaluate(compose_run("evaluate", ["trainer=cpu", *options], out))


def crafted_cases(runs: dict, folder: Path) -> list[tuple[str, str, Path, Path]]:
    """(reader, what was crafted, the crafted checkpoint, the marker its payload would write)."""
    rng = random.Random(0)
    cases = []
    for base, readers in (("mlp", ("evaluate", "load", "ckpt_path", "resume")), ("flow", ("ood_background",))):
        checkpoint = torch.load(runs[base] / "checkpoints" / "best.ckpt", weights_only=True)
        marker = folder / f"{base}_marker"
        for i, (what, spec) in enumerate(crafted_specs(checkpoint["zoo"], marker, rng)):
            path = folder / f"{base}_{i}.ckpt"
            torch.save(checkpoint | {"zoo": spec}, path)
            cases += [(reader, what, path, marker) for reader in readers]
    return cases


def check_crafted(runs: dict, tmp_path: Path, n: int | None) -> int:
    before = digest(runs["root"])
    cases = crafted_cases(runs, tmp_path / "crafted")
    chosen = cases if n is None else random.Random(1).sample(cases, n)
    for i, (reader, what, ckpt, marker) in enumerate(chosen):
        with pytest.raises(UserError) as refused:
            read_by(reader, ckpt, tmp_path / f"out{i}", runs)
        sentence = one_sentence(refused.value)
        assert "refused before anything was built" in sentence, (reader, what, sentence)
        assert not marker.exists(), (reader, what)
    assert digest(runs["root"]) == before  # the runs the crafted files came from are untouched
    return len(chosen)


def test_crafted_checkpoints_are_refused_before_anything_is_built_by_every_reader(runs, tmp_path):
    (tmp_path / "crafted").mkdir()
    assert check_crafted(runs, tmp_path, n=40) == 40


@pytest.mark.slow
def test_every_crafted_checkpoint_is_refused_by_every_reader(runs, tmp_path):
    (tmp_path / "crafted").mkdir()
    assert check_crafted(runs, tmp_path, n=None) > 300


def test_a_data_file_in_a_pickle_format_that_would_run_code_is_refused(tmp_path):
    from tests.conftest import write_cifar
    from zoo.build import build_datamodule

    folder = write_cifar(tmp_path / "cifar-10-batches-py")
    marker = tmp_path / "ran"
    (folder / "data_batch_1").write_bytes(
        b"cos\nsystem\n(V" + f"touch {marker}".encode() + b"\ntR."  # os.system("touch ...") when unpickled
    )
    data = build_datamodule(compose("train", ["data=cifar10", f"data.root={tmp_path}", "data.val_size=20"]).data)
    with pytest.raises(UserError, match="names os.system, which could run code when loaded"):
        data.setup()
    assert not marker.exists()


# --- no finished run is ever written into ------------------------------------------------------------------
DAMAGES = {  # name -> what happens to a finished run folder
    "config gone": lambda f: (f / ".hydra" / "config.yaml").unlink(),
    "config empty": lambda f: (f / ".hydra" / "config.yaml").write_text(""),
    "config bytes": lambda f: (f / ".hydra" / "config.yaml").write_bytes(bytes(range(256))),
    "config a list": lambda f: (f / ".hydra" / "config.yaml").write_text("- 1\n- 2\n"),
    "config a folder": lambda f: ((f / ".hydra" / "config.yaml").unlink(), (f / ".hydra" / "config.yaml").mkdir()),
    "config cut": lambda f: (f / ".hydra" / "config.yaml").write_text((f / ".hydra/config.yaml").read_text()[:99]),
    ".hydra a file": lambda f: (shutil.rmtree(f / ".hydra"), (f / ".hydra").write_text("x")),
    ".lock a folder": lambda f: ((f / ".lock").unlink(), (f / ".lock").mkdir()),
    "checkpoints a file": lambda f: (shutil.rmtree(f / "checkpoints"), (f / "checkpoints").write_text("x")),
    "last.ckpt gone": lambda f: (f / "checkpoints" / "last.ckpt").unlink(),
    "last.ckpt cut": lambda f: (f / "checkpoints" / "last.ckpt").write_bytes(b"PK\x03\x04"),
    "metrics a folder": lambda f: ((f / "metrics.json").unlink(), (f / "metrics.json").mkdir()),
    "metrics cut": lambda f: (f / "metrics.json").write_text('{"test/acc": 0.'),
    "nothing": lambda f: None,
}
COMMANDS = {  # name -> a command pointed at the folder
    "a new run": lambda f, runs: train(compose_run("train", [*FAST, *MLP, "trainer.max_epochs=1"], f)),
    "resume=true": lambda f, runs: train(compose_run("train", [*FAST, *MLP, "trainer.max_epochs=1", "resume=true"], f)),
    "another model, resumed": lambda f, runs: train(compose_run("train", [*FAST, "model=cnn", "resume=true"], f)),
    "an evaluation": lambda f, runs: evaluate(
        compose_run("evaluate", ["trainer=cpu", f"ckpt_path={runs['flow']}/checkpoints/best.ckpt"], f)
    ),
}


def check_damaged_folders(runs: dict, tmp_path: Path, n: int | None) -> int:
    cases = [(d, c) for d in DAMAGES for c in COMMANDS]
    chosen = cases if n is None else random.Random(2).sample(cases, n)
    for i, (damage, command) in enumerate(chosen):
        folder = tmp_path / f"run{i}"
        shutil.copytree(runs["mlp"], folder, symlinks=True)
        DAMAGES[damage](folder)
        before = digest(folder)
        with pytest.raises(UserError) as refused:
            COMMANDS[command](folder, runs)
        one_sentence(refused.value)
        assert digest(folder) == before, (damage, command)  # the finished run is byte-identical
    return len(chosen)


def test_a_finished_run_damaged_in_any_way_is_refused_and_left_byte_identical(runs, tmp_path):
    assert check_damaged_folders(runs, tmp_path, n=16) == 16


@pytest.mark.slow
def test_every_damaged_finished_run_is_refused_and_left_byte_identical(runs, tmp_path):
    assert check_damaged_folders(runs, tmp_path, n=None) == len(DAMAGES) * len(COMMANDS)


def sweep(folder: Path, *extra: str):
    return run_cli("train.py", "-m", *FAST, *MLP, "trainer.max_epochs=1", "model.activation=tanh,relu",
                   f"hydra.sweep.dir={folder}", *extra)  # fmt: skip


def test_a_second_sweep_into_a_folder_leaves_every_earlier_run_byte_identical(tmp_path):
    first = sweep(tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    before = {job: digest(tmp_path / job) for job in ("0", "1")}
    second = sweep(tmp_path)
    assert second.returncode == 2 and "Traceback" not in second.stderr, second.stderr[-2000:]
    assert {job: digest(tmp_path / job) for job in ("0", "1")} == before
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [job["status"] for job in summary] == ["failed", "failed"]
    assert all("already holds a run" in job["error"] for job in summary)


@pytest.mark.slow
def test_two_jobs_of_one_sweep_into_one_folder_leave_the_first_byte_identical(tmp_path):
    result = sweep(tmp_path, "hydra.sweep.subdir=same")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [job["status"] for job in summary] == ["completed", "failed"]
    assert "already holds a run" in summary[1]["error"]
    metrics = json.loads((tmp_path / "same" / "metrics.json").read_text())
    assert metrics["seed"] == 12345 and (tmp_path / "same" / ".hydra" / "overrides.yaml").read_text().count("tanh")


# --- readers are total ------------------------------------------------------------------------------------
def damaged_contents(valid: bytes, rng: random.Random) -> list[bytes | None]:
    """A valid file's damaged forms: cut, empty, random bytes, another JSON type; None: a folder of that name."""
    return [valid[: rng.randrange(1, max(2, len(valid)))], b"", bytes(rng.getrandbits(8) for _ in range(64)),
            b"[1, 2, 3]", b'"text"', b"null", b'{"val/loss": NaN}', None]  # fmt: skip


def test_compare_turns_every_damaged_file_into_a_note_and_keeps_the_other_runs(tmp_path):
    from zoo.compare import compare

    rng = random.Random(3)
    good = {
        "metrics.json": json.dumps({"val/loss": 0.5, "test/acc": 0.9, "epochs": 2}).encode(),
        "history.json": json.dumps({"val/loss": [0.7, 0.5]}).encode(),
        ".hydra/overrides.yaml": b"- model.width=16\n",
    }
    runs = 0
    for name, valid in good.items():
        for content in damaged_contents(valid, rng):
            for kept in ("a", "b"):  # two good runs beside each damaged one
                for file, text in good.items():
                    (tmp_path / f"s{runs}" / kept / file).parent.mkdir(parents=True, exist_ok=True)
                    (tmp_path / f"s{runs}" / kept / file).write_bytes(text)
            damaged = tmp_path / f"s{runs}" / "z"
            for file, text in good.items():
                (damaged / file).parent.mkdir(parents=True, exist_ok=True)
                (damaged / file).write_bytes(text)
            target = damaged / name
            target.unlink()
            target.mkdir() if content is None else target.write_bytes(content)
            text = compare([tmp_path / f"s{runs}"], "val/loss", True, "val/loss", None)
            assert "| a |" in text and "| b |" in text, text  # one broken run hides nothing
            unreadable = content == b"" or content is None or len(content) == 64  # empty, a folder, random bytes
            if unreadable and not (name == "metrics.json" and content is None):  # a folder named so is no run
                assert f"note: {damaged / name}" in text, (name, content, text)
            runs += 1


def test_compare_sorts_missing_and_nan_values_last(tmp_path):
    from zoo.compare import compare

    for name, value in (("a", 0.5), ("b", float("nan")), ("c", 0.9), ("d", None)):
        (tmp_path / name).mkdir()
        metrics = {"epochs": 1} | ({} if value is None else {"val/acc": value})
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))
    for descending in (True, False):
        table = compare([tmp_path], "val/acc", descending, "val/loss", tmp_path / "out")
        order = [
            line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ") and "run" not in line
        ]
        assert order[:2] == (["c", "a"] if descending else ["a", "c"]) and set(order[2:]) == {"b", "d"}, order
    with pytest.raises(UserError, match="--out .* is a file"):
        compare([tmp_path], None, False, "val/loss", tmp_path / "a" / "metrics.json")


# --- every way out is one line ----------------------------------------------------------------------------
PHASES = {  # a hook of the run and what the interruption then says was kept
    "on_fit_start": "training stopped; the last whole checkpoint is",
    "on_train_batch_end": "saved ",
    "on_validation_start": "saved ",
    "on_test_start": "training had finished and its checkpoints are whole",
}


@pytest.mark.parametrize("hook", list(PHASES))
@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_signal_in_every_phase_ends_the_run_with_one_line_and_its_status(tmp_path, hook, name):
    stop = ["+callbacks.stop._target_=tests.conftest.SignalAt", f"+callbacks.stop.hook={hook}"]
    stop += [f"+callbacks.stop.signal={name}"]
    cfg = compose_run("train", [*FAST, *MLP, "trainer.max_epochs=2", "callbacks=default", "callbacks.progress_bar=null",
                            *stop], tmp_path)  # fmt: skip
    with pytest.raises(Interrupted) as stopped:
        train(cfg)
    assert stopped.value.status == 128 + getattr(signal, name)
    assert PHASES[hook] in one_sentence(stopped.value)
    assert not (tmp_path / "metrics.json").exists() and not list(tmp_path.rglob("*.partial"))
    for ckpt in (tmp_path / "checkpoints").glob("*.ckpt"):
        torch.load(ckpt, weights_only=True)  # whatever was written is whole


def test_sigterm_in_the_final_test_of_train_py_says_so_and_exits_143(tmp_path):
    stop = ["+callbacks.stop._target_=tests.conftest.SignalAt", "+callbacks.stop.hook=on_test_start"]
    result = run_cli("train.py", *FAST, *MLP, "trainer.max_epochs=1", *stop, f"hydra.run.dir={tmp_path}")
    assert result.returncode == 143, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted: SIGTERM: training had finished"), result.stderr
    assert "evaluate.py ckpt_path=" in lines[0] and not (tmp_path / "metrics.json").exists()


def interrupt_at_random(run, delay: float, name: str):
    """Run `run()` with a signal at `delay` seconds; returns the Interrupted it ended with, or None."""
    done = False
    with signals.interruptible("the test's own"):  # a signal landing after the run cannot stop pytest
        timer = threading.Timer(delay, os.kill, (os.getpid(), getattr(signal, name)))
        try:
            timer.start()
            run()
            done = True
            timer.join()
        except Interrupted as err:
            timer.cancel()
            if not done:
                return err
    return None


def a_run(out: Path, ckpt: Path | None, evaluation: bool):
    """A training run on digits (or an evaluation of `ckpt`) into `out`, as a function of nothing."""
    if evaluation:
        overrides = [f"ckpt_path={ckpt}"]
        return lambda: evaluate(compose_run("evaluate", overrides, out))
    overrides = [*FAST, *MLP, "data.batch_size=16", "callbacks=default", "callbacks.progress_bar=null"]
    return lambda: train(compose_run("train", overrides, out))


def check_random_signals(tmp_path: Path, n: int) -> None:
    rng = random.Random(4)
    ckpt = None
    for i in range(n):
        out, name, delay = tmp_path / f"r{i}", rng.choice(["SIGTERM", "SIGINT"]), rng.uniform(0.05, 3.0)
        evaluation = ckpt is not None and rng.random() < 0.4
        stopped = interrupt_at_random(a_run(out, ckpt, evaluation), delay, name)
        if stopped is None and ckpt is None and not evaluation:
            ckpt = out / "checkpoints" / "best.ckpt"
        assert not list(out.rglob("*.partial")), out
        if stopped is not None:
            assert stopped.status == 128 + getattr(signal, name) and one_sentence(stopped)
            assert not (out / "metrics.json").exists()
        else:
            json.loads((out / "metrics.json").read_text())  # whole
        for written in out.rglob("*.ckpt"):
            torch.load(written, weights_only=True)


def test_signals_at_random_moments_leave_whole_files_and_one_line(tmp_path):
    check_random_signals(tmp_path, n=4)


@pytest.mark.slow
def test_signals_at_many_random_moments_leave_whole_files_and_one_line(tmp_path):
    check_random_signals(tmp_path, n=30)


@pytest.mark.parametrize(
    "overrides, sentence",
    [
        (["model=gan", "data=ring", "trainer.gradient_clip_val=1.0"], "steps its optimisers itself"),
        (["model=gan", "data=ring", "trainer.accumulate_grad_batches=2"], "neither clip nor accumulate"),
        (["data.classes=[3]"], "tells classes apart, but data=digits holds one class only ([3])"),
        (["trainer.precision=16-mixed"], "trainer.precision=16-mixed cannot be had on this machine (Lightning would"),
        (["trainer.precision=64-true"], "trainer.precision=64-true would compute every tensor in another type"),
        (["model=cnn", "trainer.precision=bf16-true"], "trainer.precision=bf16-true would compute every tensor"),
    ],
    ids=["gan-clip", "gan-accumulate", "one-class", "half-precision-on-cpu", "double", "bf16-true"],
)
def test_options_that_cannot_work_together_are_refused_before_work(compose_train, overrides, sentence):
    from zoo.run import prepare

    if "16-mixed" in overrides[0] and torch.cuda.is_available():
        pytest.skip("this machine has a GPU, where 16-mixed works")
    with pytest.raises(UserError, match=re.escape(sentence)):
        prepare(compose_train(*overrides))


def test_the_python_api_raises_only_user_errors_for_what_hydra_refuses(tmp_path):
    from zoo import api

    for overrides, sentence in (
        (["model.activaton=tanh"], "model.activaton is not a key of model; did you mean model.activation?"),
        (["model=transformer"], "model=transformer is not a preset of model"),
        (["model.activation=tanh,relu"], "gives several values"),
    ):
        with pytest.raises(UserError, match=sentence):
            api.train(*overrides, output_dir=tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_a_fault_of_the_zoo_is_one_line_naming_the_log_with_its_traceback(tmp_path, monkeypatch):
    from zoo import api
    from zoo.errors import InternalError
    from zoo.learners.classify import Classifier

    def broken(self, batch, split):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(Classifier, "_step", broken)
    with pytest.raises(InternalError) as fault:
        api.train(*FAST, *MLP, "trainer.max_epochs=1", output_dir=tmp_path / "run")
    line = one_sentence(fault.value)
    assert line.startswith("ZeroDivisionError: a bug (a fault of the zoo") and "traceback in " in line
    log = Path(line.rsplit("traceback in ", 1)[1].rstrip(")"))
    assert "ZeroDivisionError" in log.read_text() and "Traceback" in log.read_text()


def test_a_full_disk_is_one_sentence_naming_the_last_whole_checkpoint_and_leaves_no_partial_file(tmp_path, monkeypatch):
    import errno
    import pathlib

    import lightning as L

    saves = {"n": 0}
    real_save = L.Trainer.save_checkpoint

    def second_save_fills_the_disk(self, path, *args, **kwargs):
        saves["n"] += 1
        if saves["n"] == 3:  # epoch 0: best.ckpt, then last.ckpt (a link); epoch 1: best.ckpt
            open(path, "wb").write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, path, *args, **kwargs)

    monkeypatch.setattr(L.Trainer, "save_checkpoint", second_save_fills_the_disk)
    cfg = compose_run("train", [*FAST, *MLP, "trainer.max_epochs=3", "model.optimizer.lr=0.003"], tmp_path)
    with pytest.raises(UserError) as full:
        train(cfg)
    sentence = one_sentence(full.value)
    assert sentence.startswith("no space left on /") and "while writing" in sentence, sentence
    assert f"the last whole checkpoint is {tmp_path}/checkpoints/" in sentence, sentence
    assert not list(tmp_path.rglob("*.partial")) and not (tmp_path / "metrics.json").exists()
    monkeypatch.undo()  # space again: the run continues from its last whole checkpoint
    overrides = [*FAST, *MLP, "trainer.max_epochs=3", "model.optimizer.lr=0.003", "resume=true"]
    resumed = train(compose_run("train", overrides, tmp_path))
    assert resumed["epochs"] == 3

    real_write = pathlib.Path.write_text

    def metrics_fill_the_disk(self, *args, **kwargs):
        if self.name == ".metrics.json.partial":
            real_write(self, '{"half":')
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", metrics_fill_the_disk)
    with pytest.raises(UserError, match=f"no space left on .* while writing {tmp_path}/other/metrics.json"):
        train(compose_run("train", [*FAST, *MLP, "trainer.max_epochs=1"], tmp_path / "other"))
    assert not list((tmp_path / "other").rglob("*.partial")) and not (tmp_path / "other" / "metrics.json").exists()
