"""The zoo from Python (a notebook), on the command line's code path.

    from zoo import train, evaluate, load
    run = train("model=cnn", "data=digits", "trainer.max_epochs=5")
    run.metrics["test/acc"], run.dir, run.model, run.datamodule
    evaluate(run.best_checkpoint, "split=val")         # the metrics evaluate.py prints
    predict(run.best_checkpoint, "photos/")            # predictions.csv's rows: input, status, predicted, ...
    sample(checkpoint, n=64), export(checkpoint, "onnx")  # the samples' folder; the exported file, checked
    model, data = load(run.best_checkpoint)            # the model and its data description
    list_models(), create_model("cnn", "digits")       # the catalogue, and an untrained model sized for data

The overrides are the command line's, composed by Hydra from the same configs; the run folder is
claimed by the same door as train.py's (writable, not in use, not another run's) and gets everything
train.py writes. What ends a call early is what ends a command: `zoo.errors.UserError` with the
sentence the command line prints, `Interrupted` (Ctrl-C), or `InternalError` naming the log that holds
the traceback of a fault of the zoo.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import lightning as L

from datamodules.description import DataDescription
from zoo import catalog
from zoo import run as runner
from zoo.build import model_from_checkpoint
from zoo.checkpoint import load_checkpoint
from zoo.composing import Composition, compose, data_overrides_apply_to_any_data
from zoo.errors import InternalError, Interrupted, UserError, interruption
from zoo.run_folder import RunFolder, internal_error
from zoo.starting import compose_run


@dataclass
class Run:
    """A finished training run: what train.py printed and wrote, and the trained objects themselves."""

    metrics: dict
    dir: Path
    model: L.LightningModule  # the weights the test split was measured with (the best checkpoint's)
    datamodule: L.LightningDataModule

    @property
    def best_checkpoint(self) -> str:
        return self.metrics["best_checkpoint"]


class Loaded(NamedTuple):
    model: L.LightningModule
    data: DataDescription


@contextlib.contextmanager
def _way_out():
    """A call ends in UserError, Interrupted or InternalError (see the module's docstring)."""
    try:
        yield
    except (UserError, Interrupted, InternalError):
        raise
    except KeyboardInterrupt as err:
        raise Interrupted("Ctrl-C") from err
    except Exception as err:
        if interruption(err):  # a library wrapped it
            raise interruption(err) from None
        raise internal_error(err) from err


def _override_strings(function: str, overrides: tuple, example: str) -> list[str]:
    """The command line's overrides are strings; anything else is one sentence before anything is composed."""
    wrong = next((o for o in overrides if not isinstance(o, str)), None)
    if wrong is not None or any(not o.strip() for o in overrides):
        shown = repr(wrong) if wrong is not None else "an empty string"
        raise UserError(f"{function}() takes override strings, e.g. {function}({example}), got {shown}")
    return list(overrides)


def train(*overrides: str, output_dir: str | Path | None = None) -> Run:
    """`python train.py overrides...`; the run folder is outputs/train/<time>_<run_name> unless output_dir."""
    with _way_out():
        overrides = _override_strings("train", overrides, "'model=mlp', 'trainer.max_epochs=5'")
        run = compose_run("train", overrides, output_dir)
        trained = runner.train_run(run)
        return Run(trained.metrics, run.folder.path, trained.model, trained.datamodule)


def evaluate(ckpt_path: str | Path, *overrides: str, output_dir: str | Path | None = None) -> dict:
    """`python evaluate.py ckpt_path=... overrides...`; returns the metrics it prints."""
    with _way_out():
        overrides = _override_strings("evaluate", overrides, "run.best_checkpoint, 'split=val'")
        if not isinstance(ckpt_path, (str, Path)):
            raise UserError(f"evaluate() takes a checkpoint's path first, got {ckpt_path!r}")
        overrides = [f"ckpt_path={ckpt_path}", *data_overrides_apply_to_any_data(overrides)]
        return runner.evaluate(compose_run("evaluate", overrides, output_dir))


def _use(mode: str, ckpt_path, options: dict, overrides: tuple, output_dir) -> tuple[dict, Path]:
    """evaluate.py mode=<mode> with `options` as its keys; returns its metrics and its run folder."""
    overrides = _override_strings(mode, overrides, "'data.batch_size=64'")
    if not isinstance(ckpt_path, (str, Path)):
        raise UserError(f"{mode}() takes a checkpoint's path first, got {ckpt_path!r}")
    given = [f"{key}={value}" for key, value in options.items() if value is not None]
    run = compose_run("evaluate", [f"ckpt_path={ckpt_path}", f"mode={mode}", *given, *overrides], output_dir)
    return runner.evaluate(run), run.folder.path


def predict(
    ckpt_path: str | Path,
    inputs: str | Path | None = None,
    *overrides: str,
    prompt: str | None = None,
    top_k: int = 5,
    output_dir: str | Path | None = None,
) -> list[dict]:
    """`python evaluate.py ckpt_path=... mode=predict inputs=...`: the rows of the predictions.csv it writes
    (input, status, predicted, ...), every input in its order (a skipped one with its reason)."""
    import csv

    with _way_out():
        _, folder = _use("predict", ckpt_path, {"inputs": inputs, "prompt": prompt, "top_k": top_k}, overrides,
                         output_dir)  # fmt: skip
        with RunFolder(folder).predictions.open(newline="") as handle:
            return list(csv.DictReader(handle))


def sample(ckpt_path: str | Path, n: int = 64, *overrides: str, output_dir: str | Path | None = None) -> Path:
    """`python evaluate.py ckpt_path=... mode=sample n=...`: the folder the samples were written to."""
    with _way_out():
        _, folder = _use("sample", ckpt_path, {"n": n}, overrides, output_dir)
        return RunFolder(folder).sampled


def export(ckpt_path: str | Path, format: str = "onnx", *overrides: str, output_dir: str | Path | None = None) -> dict:
    """`python evaluate.py ckpt_path=... mode=export format=...`: the exported file, its largest difference from
    PyTorch on the check inputs, and how many there were."""
    with _way_out():
        metrics, _ = _use("export", ckpt_path, {"format": format}, overrides, output_dir)
        return {key: metrics[key] for key in ("exported", "max_abs_difference", "checked_inputs", "format")}


def load(ckpt_path: str | Path, *overrides: str) -> Loaded:
    """The model of a checkpoint (in eval mode) and the description of the data it was trained on.

    `overrides` as for evaluate, e.g. hydra.searchpath=[file://...] for a family whose configs live there.
    """
    with _way_out():
        # the config tree the checkpoint is read against
        folders = Composition.of(compose("evaluate", [f"ckpt_path={ckpt_path}", *overrides]).hydra).config_folders
        model = model_from_checkpoint(load_checkpoint(ckpt_path, folders), ckpt_path)
        return Loaded(model.eval(), model.data)


def list_models() -> dict:
    """Every model preset with its network, learner and the data presets it can learn from."""
    with _way_out():
        return catalog.list_models()


def create_model(name: str, data: str = "digits", *overrides: str) -> L.LightningModule:
    """An untrained model of preset `name`, sized for data preset `data` (as train.py would build it)."""
    with _way_out():
        return catalog.create_model(name, data, *overrides)
