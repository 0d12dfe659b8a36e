"""Shared fixtures: compose the real configs, run the real entry points, write tiny data files."""

from __future__ import annotations

import gzip
import os
import pickle
import signal as signal_module
import struct
import subprocess
import sys
from pathlib import Path

import lightning as L
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Under pytest-xdist each worker has a core of its own: one torch thread each (and in the processes the tests
# start), as two jobs of two threads each on two cores run several times slower than one at a time.
if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"

# Settings that make a training run take seconds: CPU, no progress bar, few epochs.
FAST = ["trainer=cpu", "callbacks=none", "trainer.max_epochs=3", "extras.print_config=false"]


@pytest.fixture
def compose_train(tmp_path):
    """compose_train(*overrides) -> the run (zoo.starting.Run), as `python train.py overrides` would start it."""
    from zoo.composing import data_overrides_apply_to_any_data
    from zoo.starting import compose_run

    def _compose(*overrides, name: str = "train", output_dir: Path | None = None):
        overrides = [*FAST, *overrides] if name == "train" else data_overrides_apply_to_any_data(list(overrides))
        return compose_run(name, overrides, output_dir or tmp_path)

    return _compose


@pytest.fixture(scope="session")
def trained_mlp(tmp_path_factory) -> Path:
    """One finished run per test worker (an MLP on digits, one epoch), for the tests that only read or evaluate a
    run: its folder, never written into (copy it to change it)."""
    from zoo.run import train
    from zoo.starting import compose_run

    folder = tmp_path_factory.mktemp("trained_mlp")
    train(compose_run("train", [*FAST, "model=mlp", "model.width=16", "data=digits", "trainer.max_epochs=1"], folder))
    return folder


def run_cli(
    script: str,
    *args: str,
    cwd: Path = ROOT,
    timeout: int = 300,
    pythonpath: Path | None = None,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    """Run train.py / evaluate.py as a user would (`env`: variables to set); returns the finished process."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"} | (env or {})
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def write_idx(folder: Path, n_train: int = 120, n_test: int = 40, seed: int = 0, gz: bool = False) -> Path:
    """MNIST's IDX layout: {train,t10k}-{images-idx3,labels-idx1}-ubyte, big-endian headers."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        # Each class is a bright square at its own place, so a model can learn something.
        images = rng.integers(0, 40, (n, 28, 28), dtype=np.uint8)
        for i, label in enumerate(labels):
            r, c = divmod(int(label), 5)
            images[i, 4 + 10 * r : 12 + 10 * r, 2 + 5 * c : 6 + 5 * c] = 250
        files = {
            f"{prefix}-images-idx3-ubyte": struct.pack(">IIII", 0x803, n, 28, 28) + images.tobytes(),
            f"{prefix}-labels-idx1-ubyte": struct.pack(">II", 0x801, n) + labels.tobytes(),
        }
        for name, payload in files.items():
            (folder / name).write_bytes(payload)
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(payload))
    return folder


def write_cifar(folder: Path, per_batch: int = 20, seed: int = 0) -> Path:
    """CIFAR-10's python layout: pickled dicts with b"data" (N x 3072 uint8) and b"labels"."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = rng.integers(0, 10, per_batch)
        data = rng.integers(0, 255, (per_batch, 3 * 32 * 32), dtype=np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels.tolist(), b"data": data}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"class{i}".encode() for i in range(10)]}, f)
    return folder


class SignalAt(L.Callback):
    """Sends this process a signal at one of Lightning's hooks: how the tests stop a run in a given phase.

    As a config entry: +callbacks.stop._target_=tests.conftest.SignalAt +callbacks.stop.hook=on_test_start
    """

    HOOKS = ("on_fit_start", "on_train_start", "on_train_batch_end", "on_validation_start", "on_validation_end",
             "on_train_end", "on_test_start", "on_test_batch_end")  # fmt: skip

    def __init__(self, hook: str, signal: str = "SIGTERM", after: int = 0):
        assert hook in self.HOOKS, hook
        self.hook, self.signal, self.after, self.calls = hook, getattr(signal_module, signal), after, 0

    def _maybe(self, hook: str) -> None:
        if hook == self.hook:
            self.calls += 1
            if self.calls == self.after + 1:
                os.kill(os.getpid(), self.signal)


for _hook in SignalAt.HOOKS:
    setattr(SignalAt, _hook, lambda self, *args, _hook=_hook, **kwargs: self._maybe(_hook))
