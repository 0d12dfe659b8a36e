"""The zoo from Python (a notebook), on the command line's code path.

    from zoo import train, evaluate, load
    run = train("model=cnn", "data=digits", "trainer.max_epochs=5")
    run.metrics["test/acc"], run.dir, run.model, run.datamodule
    evaluate(run.best_checkpoint, "split=val")         # the metrics evaluate.py prints
    model, data = load(run.best_checkpoint)            # the model and its data description

The overrides are the command line's, composed by Hydra from the same configs; the run folder is
claimed with the same checks as train.py's (writable, not in use, not another run's) and gets the
composed config in .hydra/ beside everything train.py writes. A wrong value raises zoo.errors.UserError
with the sentence the command line would print.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import lightning as L
from omegaconf import DictConfig, OmegaConf

from datamodules.description import DataDescription
from zoo import run as runner
from zoo.checkpoint import load_checkpoint
from zoo.config import compose, data_overrides_apply_to_any_data, task_config
from zoo.hydra_callbacks import claim_run_folder


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


def _start(task: str, overrides: list[str], output_dir) -> tuple[DictConfig, Path]:
    """Compose as the command line does, then claim and fill the run folder's .hydra/ as Hydra would."""
    cfg = compose(task, overrides)
    folder = Path(output_dir if output_dir is not None else cfg.hydra.run.dir).resolve()
    cfg.paths.output_dir = str(folder)
    task_cfg = task_config(cfg, resolve=False)
    claim_run_folder(folder, task_cfg)
    (folder / ".hydra").mkdir(exist_ok=True)
    OmegaConf.save(OmegaConf.create(task_cfg), folder / ".hydra" / "config.yaml")
    OmegaConf.save(OmegaConf.create(list(overrides)), folder / ".hydra" / "overrides.yaml")
    return cfg, folder


def train(*overrides: str, output_dir: str | Path | None = None) -> Run:
    """`python train.py overrides...`; the run folder is outputs/train/<time>_<run_name> unless output_dir."""
    cfg, folder = _start("train", list(overrides), output_dir)
    trained = runner.train_run(cfg)
    return Run(trained.metrics, folder, trained.model, trained.datamodule)


def evaluate(ckpt_path: str | Path, *overrides: str, output_dir: str | Path | None = None) -> dict:
    """`python evaluate.py ckpt_path=... overrides...`; returns the metrics it prints."""
    overrides = [f"ckpt_path={ckpt_path}", *data_overrides_apply_to_any_data(list(overrides))]
    cfg, _ = _start("evaluate", overrides, output_dir)
    return runner.evaluate(cfg, overrides)


def load(ckpt_path: str | Path) -> Loaded:
    """The model of a checkpoint (in eval mode) and the description of the data it was trained on."""
    model = runner.model_from_checkpoint(load_checkpoint(ckpt_path), ckpt_path)
    return Loaded(model.eval(), model.data)
