"""The whole command line as a property: every option of every config given wrong, odd or extreme values,
and every file the zoo reads given generated contents, either works or fails with one sentence.

Invocations go through the command line's own code path in-process (compose, check, build data, model,
callbacks, loggers and trainer: zoo.run.prepare; evaluate.py's zoo.run.evaluate); a sample of the
accepted ones trains two steps, and (slow suite) a sample runs as real processes. The default suite
runs a seeded sample of each kind; `make test-slow` runs 2,400 of the generated training command lines,
every generated evaluation, 60 of the accepted ones for two steps, and 56 as real processes.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT, write_idx
from zoo.composing import compose
from zoo.errors import UserError
from zoo.run import evaluate, prepare, train
from zoo.starting import compose_run

# its tests share module fixtures: one worker runs them all (pytest-xdist --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_surface")

TEXT = "the cat sat on the mat.\nthe dog sat on the log.\n" * 400

BASES = {  # small settings per family, so one invocation builds in a fraction of a second
    "mlp_digits": ["model=mlp", "data=digits"],
    "perceptron_moons": ["model=perceptron", "data=moons", "logger=many"],
    "cnn_digits": ["model=cnn", "data=digits"],
    "resnet_digits": ["model=resnet", "data=digits"],
    "alexnet_digits": ["model=alexnet", "data=digits"],  # and zfnet: the same options
    "vgg_digits": ["model=vgg", "data=digits"],
    "googlenet_digits": ["model=googlenet", "data=digits"],
    "odenet_digits": ["model=odenet", "data=digits"],
    "lstm_longrange": ["model=lstm_lm", "data=longrange", "data.train_sentences=64"]
    + ["data.val_sentences=32", "data.test_sentences=32"],
    "gru_text": ["model=gru_lm", "data=text", "data.path={text}"],
    "gan_ring": ["model=gan", "data=ring", "data.n_samples=600"],
    "realnvp_moons": ["model=realnvp", "data=moons"],
    "cnn_mnist": ["model=cnn", "data=mnist", "data.root={mnist}", "data.download=false", "data.val_size=20"],
}
STEPS = ["trainer=cpu", "trainer.max_steps=2", "trainer.max_epochs=1", "trainer.limit_val_batches=2"]
STEPS += ["trainer.limit_test_batches=2"]
VALUES = ["abc", "0", "-1", "''", "1000000000000", "1e300", "0.5", "-0.5", "null", "true", "[]", "[1,2]", "nan"]
VALUES += ["{dir}", "{missing}"]
SKIPPED = ("paths.", "hydra.", "task_name", "run_name")  # where a run is written: the run-folder tests' part


def leaf_keys(cfg) -> list[str]:
    from omegaconf import OmegaConf

    values = OmegaConf.to_container(cfg, resolve=False)
    values.pop("hydra", None)

    def walk(node, prefix):
        for key, value in node.items():
            if isinstance(value, dict) and value:
                yield from walk(value, f"{prefix}{key}.")
            elif not str(key).startswith("_"):
                yield f"{prefix}{key}"

    return [k for k in walk(values, "") if not k.startswith(SKIPPED)]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """The files an invocation may name: a text, MNIST folders, checkpoints real and damaged, odd files."""
    root = tmp_path_factory.mktemp("surface")
    rng = random.Random(0)
    (root / "dir").mkdir()
    paths = {"dir": str(root / "dir"), "missing": str(root / "missing" / "file")}
    (root / "text.txt").write_text(TEXT)
    paths["text"] = str(root / "text.txt")
    write_idx(root / "mnist" / "MNIST" / "raw", n_train=80, n_test=20)
    paths["mnist"] = str(root / "mnist")
    broken = root / "broken_mnist" / "MNIST" / "raw"
    write_idx(broken, n_train=80, n_test=20)
    for f in sorted(broken.iterdir())[:2]:
        f.write_bytes(f.read_bytes()[: rng.randrange(1, 200)])
    paths["broken_mnist"] = str(root / "broken_mnist")

    checkpoints = {}
    lm = ["model=gru_lm", "data=text", f"data.path={paths['text']}"]
    for name, overrides in (("mlp", ["model=mlp", "data=digits"]), ("lm", lm)):
        out = root / f"trained_{name}"
        cfg = compose_run("train", [*overrides, *STEPS, "callbacks=none"], out)
        train(cfg)
        checkpoints[name] = out / "checkpoints" / "last.ckpt"
    paths["ckpt_mlp"], paths["ckpt_lm"] = str(checkpoints["mlp"]), str(checkpoints["lm"])

    real = checkpoints["mlp"].read_bytes()
    damaged = {
        "empty": b"",
        "json": json.dumps({"zoo": 1, "state_dict": []}).encode(),
        "png": b"\x89PNG\r\n\x1a\n" + bytes(rng.getrandbits(8) for _ in range(300)),
        "text": TEXT.encode(),
    }
    for i in range(8):
        damaged[f"random{i}"] = bytes(rng.getrandbits(8) for _ in range(5000))
        damaged[f"truncated{i}"] = real[: rng.randrange(1, len(real))]
        flipped = bytearray(real)
        for _ in range(1 + i):
            position = rng.randrange(len(flipped))
            flipped[position] ^= 1 << rng.randrange(8)
        damaged[f"bitflip{i}"] = bytes(flipped)
    with zipfile.ZipFile(root / "zip.ckpt", "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02garbage")
    paths["damaged"] = [str(root / "zip.ckpt")]
    for name, content in damaged.items():
        (root / f"{name}.ckpt").write_bytes(content)
        paths["damaged"].append(str(root / f"{name}.ckpt"))

    texts = {
        "nul": b"abc\x00def" * 20,
        "latin1": "caf\xe9 ".encode("latin-1") * 50,
        "blank": b" \n\t\n",
        "one_char": b"a",
        "short": b"a few words only\n",
        "random": bytes(rng.getrandbits(8) for _ in range(3000)),
    }
    paths["texts"] = []
    for name, content in texts.items():
        (root / f"{name}.txt").write_bytes(content)
        paths["texts"].append(str(root / f"{name}.txt"))
    return paths


def train_invocations(files: dict) -> list[list[str]]:
    """Every option of every base config, each generated value; then the files each option can name."""
    out = []
    for base in BASES.values():
        base = [b.format(**files) for b in base]
        for key in leaf_keys(compose("train", ["trainer=cpu", *base])):
            out += [[*base, f"{key}={v.format(**files)}"] for v in VALUES]
        out += [[*base, f"ckpt_path={path}"] for path in [*files["damaged"], files["dir"], files["ckpt_lm"]]]
    text = [b.format(**files) for b in BASES["gru_text"]]
    out += [[*text, f"data.path={path}"] for path in [*files["texts"], files["dir"], files["missing"]]]
    for level in ("word", "char"):
        out += [[*text, f"data.path={path}", f"data.level={level}"] for path in files["texts"]]
    mnist = [b.format(**files) for b in BASES["cnn_mnist"]]
    out += [[*mnist, f"data.root={path}"] for path in (files["broken_mnist"], files["dir"], files["text"])]
    return out


def evaluate_keys() -> list[str]:
    """evaluate.py's top-level options (its own and its learners'), as configs/evaluate.yaml lists them."""
    from omegaconf import DictConfig

    cfg = compose("evaluate", ["ckpt_path=unused"])
    return [k for k, v in cfg.items() if k not in ("hydra", "ckpt_path") and not isinstance(v, DictConfig)]


def evaluate_invocations(files: dict) -> list[list[str]]:
    out = []
    for ckpt in (files["ckpt_mlp"], files["ckpt_lm"]):
        for key in [*evaluate_keys(), "trainer.devices"]:
            out += [[f"ckpt_path={ckpt}", f"{key}={v.format(**files)}"] for v in VALUES]
        out += [[f"ckpt_path={ckpt}", "mode=generate", f"temperature={t}"] for t in ("1e-30", "1e-45", "1e30")]
    out += [[f"ckpt_path={path}"] for path in [*files["damaged"], files["dir"], files["missing"]]]
    out += [[f"ckpt_path={files['ckpt_lm']}", f"++data.path={path}"] for path in [*files["texts"], files["dir"]]]
    out += [[f"ckpt_path={files['ckpt_lm']}", "++data.level=word"], [f"ckpt_path={files['ckpt_mlp']}", "data=moons"]]
    return out


def outcome(run, invocation: list[str]) -> str:
    """'accepted', or 'refused' with one sentence; anything else fails the test with the invocation."""
    try:
        run(invocation)
    except UserError as err:
        sentence = str(err)
        assert sentence and "\n" not in sentence, f"{invocation}: not one sentence: {sentence!r}"
        return "refused"
    except Exception as err:  # the property: nothing else may escape
        raise AssertionError(f"{invocation}: {type(err).__name__}: {err}") from err
    return "accepted"


def sample(items: list, n: int | None, seed: int = 0) -> list:
    return items if n is None else random.Random(seed).sample(items, min(n, len(items)))


def check_surface(files, tmp_path, n_train: int | None, n_evaluate: int | None, n_steps: int) -> dict:
    counts = {"accepted": 0, "refused": 0, "trained": 0}
    accepted = []
    for i, invocation in enumerate(sample(train_invocations(files), n_train)):
        result = outcome(
            lambda o, i=i: prepare(compose_run("train", ["trainer=cpu", *o], tmp_path / f"t{i}")), invocation
        )
        counts[result] += 1
        if result == "accepted":
            accepted.append(invocation)
    for i, invocation in enumerate(sample(evaluate_invocations(files), n_evaluate, seed=1)):
        run = lambda o, i=i: evaluate(compose_run("evaluate", ["trainer=cpu", *o], tmp_path / f"e{i}"))  # noqa: E731
        counts[outcome(run, invocation)] += 1
    for i, invocation in enumerate(sample(accepted, n_steps, seed=2)):
        overrides = [*invocation, *two_steps(invocation), "callbacks.progress_bar=null"]
        run = lambda o, i=i: train(compose_run("train", o, tmp_path / f"s{i}"))  # noqa: E731
        outcome(run, overrides)
        counts["trained"] += 1
    return counts


def test_a_sample_of_the_surface_works_or_says_one_sentence(files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative path among the values (dirpath=abc) lands here, not in the project
    counts = check_surface(files, tmp_path, n_train=72, n_evaluate=8, n_steps=3)  # the slow test: all of it
    assert counts["accepted"] and counts["refused"] and counts["accepted"] + counts["refused"] >= 80


@pytest.mark.slow
def test_the_whole_surface_works_or_says_one_sentence(files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    counts = check_surface(files, tmp_path, n_train=2400, n_evaluate=None, n_steps=60)
    print(counts)
    assert counts["accepted"] + counts["refused"] >= 2000


def two_steps(invocation: list[str]) -> list[str]:
    """STEPS, less the keys the invocation itself sets."""
    given = {o.split("=", 1)[0] for o in invocation}
    return [s for s in STEPS if s.split("=", 1)[0] not in given]


def cli_outcome(invocation: list[str], run_dir: Path) -> None:
    command = [sys.executable, str(ROOT / "train.py"), *invocation, *two_steps(invocation), f"hydra.run.dir={run_dir}"]
    result = subprocess.run(command, cwd=run_dir.parent, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr, f"{invocation}: {result.stderr[-3000:]}"
    assert result.returncode in (0, 2), f"{invocation}: exit {result.returncode}: {result.stderr[-2000:]}"
    if result.returncode == 2:
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, f"{invocation}: {result.stderr[-2000:]}"
    else:
        assert (run_dir / "metrics.json").is_file()


@pytest.mark.slow
def test_a_sample_of_the_surface_as_real_processes(files, tmp_path):
    invocations = sample(train_invocations(files), 56, seed=3)
    for i, invocation in enumerate(invocations):
        cli_outcome(invocation, tmp_path / f"run{i}")
    assert len(invocations) >= 50


def test_tensors_in_windows_are_int64(files, tmp_path):
    """Streams are stored compactly; the model still receives int64 ids."""
    cfg = compose_run("train", ["model=gru_lm", "data=text", f"data.path={files['text']}"], tmp_path)
    run = prepare(cfg)
    x, y = next(iter(run.datamodule.train_dataloader()))
    assert x.dtype == y.dtype == torch.int64 and run.datamodule.streams["train"].dtype == torch.int16
