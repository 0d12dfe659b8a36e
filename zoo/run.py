"""The shared trainer: compose -> data -> model sized from the data -> fit -> test -> metrics.json.

train.py and evaluate.py are thin Hydra entry points around `train(cfg)` and `evaluate(cfg, overrides)`.
It knows no model family: what differs between families is asked of the learner (zoo.learners.base).
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import hydra
import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar
from omegaconf import DictConfig, OmegaConf

from datamodules.description import DataDescription
from zoo.checkpoint import check_same_network, load_checkpoint
from zoo.config import (
    applied_recipes,
    build_datamodule,
    build_model,
    choice,
    instantiate,
    instantiate_group,
    plain,
    task_config,
)
from zoo.errors import UserError
from zoo.loggers import log_figures, log_run_summary
from zoo.options import building, check_batch_limits, check_group, check_options

# Hydra routes log records to the console and the run's log file; Lightning's own console handler
# would print each of its lines a second time. Without Hydra (sections, the Python API) Lightning's
# notes (accelerators found, tips) then stay off the console and its warnings still reach it.
for name in ("lightning", "lightning.pytorch"):
    logging.getLogger(name).handlers.clear()
# Library notes that concern no user's run: Lightning calling an API that torch deprecated, its
# caution about iterable datasets with a length under several workers (the token streams use none),
# and its note on a checkpoint folder that is not empty (the run-folder guard already allowed it: a resume).
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
warnings.filterwarnings("ignore", message=r"Your `IterableDataset` has `__len__` defined")
warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")


def build_trainer(cfg, callbacks: list, loggers: list) -> L.Trainer:
    show_progress = any(isinstance(cb, ProgressBar) for cb in callbacks)
    try:
        return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, enable_progress_bar=show_progress)
    except hydra.errors.InstantiationException as err:
        # Lightning says why the devices cannot be had (no GPU, too many devices, ...).
        reason = str(err.__cause__ or err).strip().splitlines()[0]
        raise UserError(
            f"the trainer settings cannot be met on this machine: {reason} (trainer=cpu always works)"
        ) from err


def provenance(seed: int) -> dict:
    """Seed, library versions and git commit: what is needed to rerun this exactly."""
    import hydra as hydra_pkg

    found = {"seed": seed, "torch": torch.__version__, "lightning": L.__version__, "hydra": hydra_pkg.__version__}
    try:
        found["git_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return found


def _scalars(metrics: dict, prefix: str = "") -> dict:
    return {k: float(v) for k, v in metrics.items() if k.startswith(prefix) and torch.as_tensor(v).numel() == 1}


def write_metrics(metrics: dict, out_dir: Path, title: str) -> None:
    """metrics.json in the run folder and a short table on the terminal."""
    from rich.console import Console
    from rich.table import Table

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    table = Table(title=title, show_header=False)
    for key in sorted(metrics):
        value = metrics[key]
        if isinstance(value, str) and len(value) > 40:
            continue  # paths and hashes stay in metrics.json
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console = Console()
    console.print(table)
    console.print(f"run folder: {out_dir}", soft_wrap=True)


def resume_from(cfg: DictConfig, out_dir: Path, model: L.LightningModule) -> tuple[str | None, tuple[int, int]]:
    """The checkpoint to continue from (ckpt_path, or with resume=true this run folder's last.ckpt),
    and where in training it stands: (the epoch it continues in, optimizer steps done)."""
    path = cfg.get("ckpt_path")
    if cfg.get("resume") and path is None:
        last = out_dir / "checkpoints" / "last.ckpt"
        if not last.is_file():
            raise UserError(
                f"resume=true found no {last}; pass hydra.run.dir=<folder of the run to continue> "
                f"or ckpt_path=<checkpoint>"
            )
        path = str(last)
    if path is None:
        return None, (0, 0)
    checkpoint = load_checkpoint(path)  # refuses unsafe or corrupt files with a sentence before Lightning reads it
    check_same_network(checkpoint, path, model, plain(cfg.model))
    loop = checkpoint.get("loops", {}).get("fit_loop", {})
    try:
        position = (
            int(loop["epoch_progress"]["current"]["processed"]),  # the epoch a resume starts in
            int(loop["epoch_loop.state_dict"]["_batches_that_stepped"]),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"checkpoint {path} holds no training state to continue from (weights only?)") from err
    return path, position


# --- the two commands -----------------------------------------------------------------------------
@dataclass
class Prepared:
    """A training run ready to fit: what `train` builds before any step is taken."""

    datamodule: L.LightningDataModule
    model: L.LightningModule
    callbacks: list
    trainer: L.Trainer
    ckpt_path: str | None


def prepare(cfg: DictConfig) -> Prepared:
    """Options checked, then data, model, callbacks, loggers and trainer built: every refusal happens here."""
    check_options(cfg, "train")
    out_dir = Path(cfg.paths.output_dir)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    with building("data"):
        datamodule = build_datamodule(cfg.data)
        datamodule.prepare_data()
        description = datamodule.description
    check_batch_limits(cfg.trainer, datamodule, ("train", "val", "test") if cfg.get("test") else ("train", "val"))
    with building("model"):
        model = build_model(cfg.model, description, (choice(cfg, "model"), choice(cfg, "data")))
    model.spec = {
        "model": plain(cfg.model),
        "data": plain(cfg.data),
        "description": description.as_dict(),
        "seed": cfg.seed,
    }

    if cfg.get("channels_last"):  # NHWC layout: faster convolutions on recent GPUs
        model = model.to(memory_format=torch.channels_last)
    if cfg.get("compile"):
        model.net.compile()  # in place, so checkpoint keys stay those of the plain net
    ckpt_path, (epochs_done, steps_done) = resume_from(cfg, out_dir, model)
    if model.ddp_unused_parameters and cfg.trainer.get("strategy") == "ddp":
        cfg.trainer.strategy = "ddp_find_unused_parameters_true"
    with building("callbacks"):
        callbacks = instantiate_group(cfg.get("callbacks"))
    with building("logger"):
        loggers = instantiate_group(cfg.get("logger"))
    if ckpt_path and cfg.get("resume"):  # the logs of this run folder continue where the checkpoint stands
        for logger in loggers:
            if hasattr(logger, "continue_from"):
                logger.continue_from(epochs_done, steps_done)
    return Prepared(datamodule, model, callbacks, build_trainer(cfg, callbacks, loggers), ckpt_path)


@dataclass
class Trained:
    """What a training run leaves in memory: its metrics, the model (the tested weights) and its data."""

    metrics: dict
    model: L.LightningModule
    datamodule: L.LightningDataModule


def train(cfg: DictConfig) -> dict:
    """train.py's task: fit, test the best checkpoint, write the run folder; returns metrics.json's content."""
    return train_run(cfg).metrics


def train_run(cfg: DictConfig) -> Trained:
    called = time.perf_counter()
    run = prepare(cfg)
    datamodule, model, callbacks, trainer = run.datamodule, run.model, run.callbacks, run.trainer
    out_dir = Path(cfg.paths.output_dir)
    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=run.ckpt_path, weights_only=True)
    fit_seconds = time.perf_counter() - start

    metrics = _scalars(trainer.callback_metrics, "train/")
    checkpoint = next((cb for cb in callbacks if isinstance(cb, ModelCheckpoint)), None)
    best = checkpoint.best_model_path if checkpoint else ""
    if cfg.get("test"):  # the best checkpoint's weights; the last weights when no validation ran
        if best:
            model.load_state_dict(load_checkpoint(best)["state_dict"])
        metrics |= _scalars(trainer.validate(model, datamodule=datamodule, verbose=False)[0])
        metrics |= _scalars(trainer.test(model, datamodule=datamodule, verbose=False)[0])
    metrics |= {
        "n_params": sum(p.numel() for p in model.parameters()),
        "fit_seconds": fit_seconds,
        "samples_per_second": model.samples_seen * trainer.world_size / max(fit_seconds, 1e-9),
        # data, model, trainer and callbacks built, until the first training batch arrives
        "seconds_to_first_step": getattr(model, "first_step_at", called) - called,
        "train_steps": trainer.global_step,
        "epochs": trainer.fit_loop.epoch_progress.current.completed,
        "world_size": trainer.world_size,
        "best_checkpoint": best,
        # which configs/recipe/ files shaped this run (the pair's tuned settings, if there is one)
        "recipe": " + ".join(r.split("/")[-1] for r in applied_recipes(cfg)) or "none",
    } | provenance(cfg.seed)
    if trainer.is_global_zero:
        figures = model.save_figures(out_dir, datamodule)
        log_figures(trainer.loggers, {path.stem: path for path in figures}, trainer.global_step)
        log_run_summary(trainer.loggers, task_config(cfg), metrics)
        (out_dir / "history.json").write_text(json.dumps(model.history) + "\n")  # per-epoch curves
        write_metrics(metrics, out_dir, f"train: {cfg.get('run_name', '')}")
    return Trained(metrics, model, datamodule)


def model_from_checkpoint(checkpoint: dict, path) -> L.LightningModule:
    """The model the checkpoint's spec describes, with its weights; a mismatch is one sentence."""
    spec = checkpoint["zoo"]
    try:
        description = DataDescription.from_dict(spec["description"])
        model_cfg = dict(spec["model"])
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"checkpoint {path} has a damaged model spec ({err!r}); train it again") from err
    with building("checkpoint's model"):
        model = build_model(model_cfg, description)
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as err:
        lines = str(err).splitlines()
        raise UserError(
            f"checkpoint {path} does not fit the model its spec describes: "
            f"{lines[1].strip() if len(lines) > 1 else err}"
        ) from err
    model.spec = spec
    return model


def evaluation_data_config(spec_data: dict, cfg: DictConfig, overrides: list[str]):
    """The checkpoint's data config with the command line's `data.*` overrides; `data=X` replaces it."""
    keys = [o.split("=", 1)[0].lstrip("+~") for o in overrides]
    if "data" in keys:  # another preset, served at the pixel scale the model was trained on
        scaling = spec_data.get("scaling")
        return OmegaConf.merge(cfg.data, {"scaling": scaling}) if scaling and "scaling" in cfg.data else cfg.data
    dotlist = [o.lstrip("+")[len("data.") :] for o in overrides if o.lstrip("+").startswith("data.")]
    return OmegaConf.merge(OmegaConf.create(spec_data), OmegaConf.from_dotlist(dotlist))


def evaluation_datamodule(model, spec: dict, cfg: DictConfig, overrides: list[str]):
    """The data to evaluate on, served as the model saw its own; other shapes or classes are one sentence."""
    trained_on = model.data
    data_cfg = evaluation_data_config(spec["data"], cfg, overrides)
    check_group("data", plain(data_cfg))
    with building("data"):
        datamodule = build_datamodule(data_cfg)
        datamodule.adopt(trained_on)  # e.g. text is read with the checkpoint's vocabulary
        datamodule.prepare_data()
        differences = trained_on.differences(datamodule.description)
    if differences:
        raise UserError(
            f"checkpoint {cfg.ckpt_path} was trained on other data than the data given, which differs in "
            f"{'; '.join(differences)}; pass a data preset with the same shape and classes"
        )
    return datamodule


def evaluate(cfg: DictConfig, overrides: list[str]) -> dict:
    check_options(cfg, "evaluate")
    checkpoint = load_checkpoint(cfg.ckpt_path)
    spec = checkpoint["zoo"]
    out_dir = Path(cfg.paths.output_dir)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    model = model_from_checkpoint(checkpoint, cfg.ckpt_path)
    if cfg.mode == "generate":
        datamodule = evaluation_datamodule(model, spec, cfg, overrides) if model.generates_from_data else None
        return {"generated": model.generate(cfg, out_dir, datamodule)}
    split = cfg.split
    datamodule = evaluation_datamodule(model, spec, cfg, overrides)
    check_batch_limits(cfg.trainer, datamodule, (split,))
    with building("logger"):
        loggers = instantiate_group(cfg.get("logger"))
    trainer = build_trainer(cfg, [], loggers)
    run = trainer.test if split == "test" else trainer.validate
    metrics = _scalars(run(model, datamodule=datamodule, verbose=False)[0])
    metrics |= model.evaluate_options(cfg, datamodule, out_dir)
    metrics |= {"n_params": sum(p.numel() for p in model.parameters()), "checkpoint": str(cfg.ckpt_path)}
    metrics |= provenance(cfg.seed)
    if trainer.is_global_zero:
        model.save_figures(out_dir, datamodule)
        write_metrics(metrics, out_dir, "evaluate")
    return metrics
