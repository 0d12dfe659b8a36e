"""The shared trainer: check -> build -> record the run folder -> fit -> test -> write up.

train.py and evaluate.py (zoo.cli), the Python API (zoo.api) and the sections start a run
(zoo.starting.Run: its config, its composition and its claimed folder) and call `train_run(run)` or
`evaluate(run)`. It knows no model family: what differs between families is asked of the learner
(zoo.learners.base). Every refusal happens before the first step; every file is written whole; Ctrl-C
and SIGTERM end every phase with a line that says what was kept (zoo.signals).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import lightning as L
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar
from omegaconf import DictConfig, OmegaConf

from zoo import plots, signals
from zoo.build import (
    build_datamodule,
    build_model,
    building,
    check_config,
    check_learner_options,
    instantiate,
    instantiate_group,
    model_from_checkpoint,
)
from zoo.checkpoint import check_same_network, load_checkpoint
from zoo.composing import override_key, preset, presets
from zoo.config import flat, plain
from zoo.errors import UserError
from zoo.files import write_whole
from zoo.learners.base import Evaluation
from zoo.loggers import log_figures, log_run_start, log_run_summary
from zoo.options import check_node
from zoo.ranges import Positive, Range, Seed
from zoo.run_folder import RunFolder, is_launched_rank
from zoo.starting import Run

# Hydra routes log records to the console and the run's log file; Lightning's own console handler
# (which it adds, cutting its loggers off from the root, when imported before logging is set up) would
# print each of its lines a second time. Without Hydra (sections, the Python API) Lightning's notes
# (accelerators found, tips) then stay off the console and its warnings still reach it.
for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
    logging.getLogger(name).handlers.clear()
    logging.getLogger(name).propagate = True
# Library notes that concern no user's run: Lightning calling an API that torch deprecated, its
# caution about iterable datasets with a length under several workers (the token streams use none),
# and its note on a checkpoint folder that is not empty (the run-folder claim already allowed it: a resume).
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
warnings.filterwarnings("ignore", message=r"Your `IterableDataset` has `__len__` defined")
warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
# the learners log once per epoch, so an epoch shorter than Lightning's per-step logging interval loses nothing
warnings.filterwarnings("ignore", message=r"The number of training batches .* is smaller than the logging interval")


@dataclass(frozen=True)
class TrainOptions:
    """train.py's own options: the top-level keys of configs/train.yaml (the groups aside)."""

    seed: Seed = 12345
    ckpt_path: str | None = None
    resume: bool = False
    test: bool = True
    compile: bool = False
    channels_last: bool = False
    optimized_metric: str = "val/loss"
    run_name: str = ""
    task_name: str = "train"
    tags: list[str] = ()


@dataclass(frozen=True)
class Extras:
    """configs/train.yaml's `extras`: what a run shows besides its work."""

    print_config: bool = True
    figures: bool = True


@dataclass(frozen=True)
class EvaluateOptions:
    """evaluate.py's own options; the other top-level keys of configs/evaluate.yaml belong to the learner."""

    ckpt_path: str
    seed: Seed = 12345
    split: Literal["test", "val"] = "test"
    mode: Literal["test", "generate", "predict", "sample", "export", "demo"] = "test"
    inputs: str | None = None
    top_k: Annotated[int, Range(1, 1000)] = 5
    n: Annotated[int, Range(1, 100_000)] = 64
    format: Literal["onnx", "torchscript", "exported"] = "onnx"
    tolerance: Positive = 1e-4
    port: Annotated[int, Range(0, 65535, note="0: any free port")] = 7860
    run_name: str = ""
    task_name: str = "evaluate"
    tags: list[str] = ()


# The options each mode reads beyond those of every mode (ckpt_path, seed, run_name, tags); in the modes that use a
# trained model the learner's own evaluate options are read by none, but a language model's prompt by predict.
MODE_READS = {
    "test": ("split",),
    "generate": (),
    "predict": ("inputs", "top_k", "prompt"),
    "sample": ("n",),
    "export": ("format", "tolerance", "inputs"),
    "demo": ("port", "top_k"),
}


USING = ("predict", "sample", "export", "demo")  # the modes that use a trained model, on the CPU, with no data set


def check_mode_options(cfg: DictConfig, overrides: tuple[str, ...], learner_options: dict) -> None:
    """An option the chosen mode does not read would change nothing: one sentence naming the modes that read it."""
    keys = [override_key(o).lstrip("+~") for o in overrides]
    unread = next((k for k in keys if k.split(".")[0] in ("data", "trainer", "logger")), None)
    if cfg.mode in USING and unread:
        raise UserError(
            f"{unread}= is read by mode=test and mode=generate (the data and trainer a checkpoint is measured with); "
            f"mode={cfg.mode} needs no data set and runs on the CPU: leave it out"
        )
    given = {key.split(".")[0] for key in keys}
    own = {key for read in MODE_READS.values() for key in read}
    for key in sorted(given & (own | set(learner_options))):
        if key in MODE_READS[cfg.mode] or (key in learner_options and cfg.mode in ("test", "generate")):
            continue
        readers = [mode for mode, keys in MODE_READS.items() if key in keys]
        if key in learner_options:
            readers = ["test or generate (an option of the checkpoint's learner)", *readers]
        raise UserError(f"{key}= is read by mode={' and mode='.join(readers)}, not by mode={cfg.mode}; leave it out")


def print_config(run: Run) -> None:
    """The composed config as a tree (extras.print_config=false leaves it out)."""
    from rich.console import Console
    from rich.tree import Tree

    def grow(branch: Tree, node) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                grow(branch.add(f"[bold]{key}[/bold]"), value)
            else:
                branch.add(f"{key}: {value}")

    config = run.task
    tree = Tree(f"config of {config.get('run_name') or 'this run'}")
    for key in ("model", "data", "trainer", "callbacks", "logger"):
        if isinstance(config.get(key), dict):
            grow(tree.add(f"[bold]{key}[/bold]"), config[key])
    for key, value in config.items():
        if not isinstance(value, dict):
            tree.add(f"{key}: {value}")
    Console().print(tree)


def build_trainer(cfg, callbacks: list, loggers: list) -> L.Trainer:
    show_progress = any(isinstance(cb, ProgressBar) for cb in callbacks)
    try:
        with warnings.catch_warnings():  # a precision Lightning would replace is said by check_precision
            warnings.filterwarnings("ignore", message=r".*is not supported on CPU. Using `precision=")
            return instantiate(
                cfg.trainer, callbacks=callbacks, logger=loggers or False, enable_progress_bar=show_progress
            )
    except Exception as err:
        # Lightning says why the devices or the precision cannot be had (no GPU, too many devices, ...).
        reason = str(getattr(err, "__cause__", None) or err).strip().splitlines()[0]
        raise UserError(
            f"the trainer settings cannot be met on this machine: {reason} (trainer=cpu always works)"
        ) from err


def provenance(seed: int) -> dict:
    """Seed, library versions and the zoo's own version: its git commit when it runs from its own checkout (never
    the commit of a repository it was installed inside), else the installed package's version."""
    import importlib.metadata

    import hydra as hydra_pkg

    found = {"seed": seed, "torch": torch.__version__, "lightning": L.__version__, "hydra": hydra_pkg.__version__}
    project = Path(__file__).resolve().parents[1]
    try:
        top, commit = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "HEAD"], capture_output=True, text=True, timeout=5, cwd=project,
            check=True,
        ).stdout.split()  # fmt: skip
        if Path(top).resolve() == project and (project / "pyproject.toml").is_file():
            found["git_commit"] = commit
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    if "git_commit" not in found:
        try:
            found["zoo_version"] = importlib.metadata.version("lecture-zoo")
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def _scalars(metrics: dict, prefix: str = "") -> dict:
    return {k: float(v) for k, v in metrics.items() if k.startswith(prefix) and torch.as_tensor(v).numel() == 1}


def write_metrics(metrics: dict, folder: RunFolder, title: str) -> None:
    """metrics.json in the run folder (whole) and a short table on the terminal."""
    from rich.console import Console
    from rich.table import Table

    write_whole(folder.metrics, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    table = Table(title=title, show_header=False)
    for key in sorted(metrics):
        value = metrics[key]
        if isinstance(value, dict) or isinstance(value, str) and len(value) > 40:
            continue  # paths, hashes, the data's fingerprints and generated text stay in metrics.json
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console = Console()
    console.print(table)
    console.print(f"run folder: {folder}", soft_wrap=True)


SPLITS = ("train", "val", "test")


def measured_on(datamodule, splits) -> dict:
    """Each split's size and fingerprint (datamodules.base.DescribedDataModule.fingerprint)."""
    with building("data"):
        return {split: {"examples": datamodule.examples(split), "fingerprint": datamodule.fingerprint(split)}
                for split in splits}  # fmt: skip


def check_batch_limits(trainer_cfg, datamodule, splits: tuple[str, ...]) -> None:
    """A fraction in trainer.limit_<split>_batches must leave at least one batch of the split (Lightning
    would only find out when it first reads that split, for validation after a whole training epoch)."""
    for split in splits:
        limit = trainer_cfg.get(f"limit_{split}_batches")
        if isinstance(limit, float) and 0 < limit < 1:
            with building("data"):
                batches = len(getattr(datamodule, f"{split}_dataloader")())
            if int(batches * limit) < 1:
                raise UserError(
                    f"trainer.limit_{split}_batches={limit} keeps less than one of the {batches} {split} batches; "
                    f"use a fraction >= {1 / batches:.3g} or a whole number of batches, e.g. "
                    f"trainer.limit_{split}_batches=1"
                )


# The precisions the zoo's data paths serve: they feed float32, which autocast runs in bf16 or fp16.
PRECISIONS = {"32-true": "32-true", "32": "32-true", "bf16-mixed": "bf16-mixed", "bf16": "bf16-mixed",
              "16-mixed": "16-mixed", "16": "16-mixed"}  # fmt: skip


def check_precision(asked, trainer: L.Trainer) -> None:
    """A precision the zoo cannot serve, or one Lightning would quietly replace on this machine, is refused."""
    wanted = PRECISIONS.get(str(asked))
    if wanted is None:
        raise UserError(
            f"trainer.precision={asked} would compute every tensor in another type than the float32 the zoo's data "
            f"and pictures are served in; use 32-true, or bf16-mixed (16-mixed on a GPU) for speed"
        )
    if str(trainer.precision) != wanted:
        raise UserError(
            f"trainer.precision={asked} cannot be had on this machine (Lightning would run {trainer.precision} "
            f"instead: 16-mixed needs a GPU); use bf16-mixed or 32-true here"
        )


def check_trainer_fits_model(trainer_cfg, model: L.LightningModule, model_name: str | None) -> None:
    """What Lightning cannot do for a learner that steps its optimisers itself (manual optimisation)."""
    if model.automatic_optimization:
        return
    clip, accumulate = trainer_cfg.get("gradient_clip_val"), trainer_cfg.get("accumulate_grad_batches") or 1
    if clip or accumulate != 1:
        raise UserError(
            f"model {model_name or type(model).__name__} steps its optimisers itself (manual optimisation), so "
            f"Lightning can neither clip nor accumulate its gradients; leave trainer.gradient_clip_val=null and "
            f"trainer.accumulate_grad_batches=1"
        )


@contextlib.contextmanager
def lightning_refusals():
    """Lightning's refusal of a setting (it checks them before the first step) becomes a sentence, and so does an
    optimiser step whose numbers overflow float32 (a learning rate that fits a float32 can still overflow once an
    optimiser scales it, as Adam's bias correction does in its first steps)."""
    try:
        yield
    except MisconfigurationException as err:
        reason = (str(err).strip().splitlines() or ["no reason given"])[0]
        raise UserError(f"Lightning refuses these settings: {reason}") from err
    except RuntimeError as err:
        if "without overflow" not in str(err):
            raise
        raise UserError(
            "the optimiser's step overflowed float32 (torch: value cannot be converted to type float without "
            "overflow): model.optimizer.lr, or another of its numbers, is too large to compute with; use a smaller one"
        ) from err


def resume_from(run: Run, model: L.LightningModule) -> tuple[str | None, tuple[int, int]]:
    """The checkpoint to continue from (ckpt_path, or with resume=true this run folder's last.ckpt),
    and where in training it stands: (the epoch it continues in, optimizer steps done)."""
    cfg, path = run.cfg, run.cfg.get("ckpt_path")
    if cfg.get("resume") and path is None:
        last = run.folder.last
        if not last.is_file():
            raise UserError(
                f"resume=true found no {last}; pass hydra.run.dir=<folder of the run to continue> "
                f"or ckpt_path=<checkpoint>"
            )
        path = str(last)
    if path is None:
        return None, (0, 0)
    checkpoint = load_checkpoint(path, run.composition.config_folders)  # unsafe, corrupt or foreign: a sentence
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


# --- training ------------------------------------------------------------------------------------------------
@dataclass
class Prepared:
    """A training run ready to fit: what `train` builds before any step is taken."""

    datamodule: L.LightningDataModule
    model: L.LightningModule
    callbacks: list
    trainer: L.Trainer
    ckpt_path: str | None


def prepare(run: Run) -> Prepared:
    """Options checked, then data, model, callbacks, loggers and trainer built: every refusal happens here."""
    cfg = run.cfg
    unread = check_config(cfg, TrainOptions)
    if unread:  # a key added at the top (+max_epoch=5) that nothing reads would change nothing, silently
        key = sorted(unread)[0]
        keys = [k for k in flat(run.task) if not k.startswith(("hydra", "paths")) and k.split(".")[0] not in unread]
        close = difflib.get_close_matches(key, keys, n=1, cutoff=0.5) or difflib.get_close_matches(
            key, [k.rsplit(".", 1)[-1] for k in keys], n=1, cutoff=0.5
        )
        near = next((k for k in keys if close and (k == close[0] or k.endswith(f".{close[0]}"))), None)
        hint = f"did you mean {near}? " if near else ""
        raise UserError(
            f"{key} is read by nothing here, so it would change nothing; {hint}python train.py --help lists the keys"
        )
    check_node("extras", plain(cfg.get("extras") or {}), [Extras])
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    with building("data"):
        datamodule = build_datamodule(cfg.data)
        datamodule.prepare_data()
        description = datamodule.description
    check_batch_limits(cfg.trainer, datamodule, ("train", "val", "test") if cfg.get("test") else ("train", "val"))
    names = (run.choice("model"), run.choice("data"))
    with building("model"):
        model = build_model(cfg.model, description, names)
    check_trainer_fits_model(cfg.trainer, model, names[0])
    model.spec = {
        "model": plain(cfg.model),
        "data": plain(cfg.data),
        "description": description.as_dict(),
        "seed": cfg.seed,
        "splits": measured_on(datamodule, SPLITS),  # what every figure of this run was measured on
        "inputs": datamodule.input_statistics(),  # what serving a new input needs (mode=predict, export, demo)
    }

    if cfg.get("channels_last"):  # NHWC layout: faster convolutions on recent GPUs
        model = model.to(memory_format=torch.channels_last)
    if cfg.get("compile"):
        model.net.compile()  # in place, so checkpoint keys stay those of the plain net
    ckpt_path, (epochs_done, steps_done) = resume_from(run, model)
    if ckpt_path is None:
        with building("model"):
            model.initialise_from(datamodule)  # data-dependent initialisation: a resumed run has its weights
    if model.ddp_unused_parameters and cfg.trainer.get("strategy") == "ddp":
        cfg.trainer.strategy = "ddp_find_unused_parameters_true"
    with building("callbacks"):
        callbacks = instantiate_group(cfg.get("callbacks"))
    for callback in callbacks:  # where the run folder keeps checkpoints is the folder's to say
        if isinstance(callback, ModelCheckpoint) and callback.dirpath is None:
            callback.dirpath = str(run.folder.checkpoints)
        if hasattr(callback, "run_folder"):
            callback.run_folder = run.folder
    with building("logger"):
        loggers = instantiate_group(cfg.get("logger"))
    for logger in loggers:
        if ckpt_path and cfg.get("resume") and hasattr(logger, "continue_from"):
            logger.continue_from(epochs_done, steps_done)  # the logs of this run folder continue where it stands
        elif not (ckpt_path and cfg.get("resume")) and hasattr(logger, "start_fresh") and not is_launched_rank():
            logger.start_fresh()
    trainer = build_trainer(cfg, callbacks, loggers)
    check_precision(cfg.trainer.get("precision", "32-true"), trainer)
    return Prepared(datamodule, model, callbacks, trainer, ckpt_path)


@dataclass
class Trained:
    """What a training run leaves in memory: its metrics, the model (the tested weights) and its data."""

    metrics: dict
    model: L.LightningModule
    datamodule: L.LightningDataModule


def record(run: Run) -> None:
    """Every check has passed: the run folder gets its config and its log (the first process's alone)."""
    if not is_launched_rank():
        run.folder.record(run.saved, run.composition)


def train(run: Run) -> dict:
    """train.py's task: fit, test the best checkpoint, write the run folder; returns metrics.json's content."""
    return train_run(run).metrics


def train_run(run: Run) -> Trained:
    """The run, with what it trained."""
    rerun = "nothing was trained; run the command again"
    with signals.interruptible(rerun) if not is_launched_rank() else contextlib.nullcontext():
        return _train_run(run)


def _train_run(run: Run) -> Trained:
    called = time.perf_counter()
    cfg, folder = run.cfg, run.folder
    prepared = prepare(run)
    record(run)
    datamodule, model, callbacks, trainer = prepared.datamodule, prepared.model, prepared.callbacks, prepared.trainer
    if cfg.get("extras", {}).get("print_config") and trainer.is_global_zero:
        print_config(run)
    parameters = run.composition.parameters(cfg)
    if trainer.is_global_zero:
        log_run_start(trainer.loggers, parameters, OmegaConf.to_yaml(OmegaConf.create(run.task)))
    checkpoint = next((cb for cb in callbacks if isinstance(cb, ModelCheckpoint)), None)
    signals.set_hint(
        f"training stopped; the last whole checkpoint is {folder.last} (if one was written): resume with "
        f"resume=true hydra.run.dir={folder}"
    )
    start = time.perf_counter()
    with lightning_refusals():
        trainer.fit(model, datamodule=datamodule, ckpt_path=prepared.ckpt_path, weights_only=True)
    fit_seconds = time.perf_counter() - start

    best = checkpoint.best_model_path if checkpoint else ""
    signals.set_hint(
        f"training had finished and its checkpoints are whole, but the run was not written up: "
        f"python evaluate.py ckpt_path={best or folder.last} measures it"
    )
    metrics = _scalars(trainer.callback_metrics, "train/")
    if cfg.get("test"):  # the best checkpoint's weights; the last weights when no validation ran
        if best:
            model.load_state_dict(load_checkpoint(best, run.composition.config_folders)["state_dict"])
        with lightning_refusals():
            trainer.validate(model, datamodule=datamodule, verbose=False)
            metrics |= _scalars(trainer.callback_metrics, "val/")  # of the best weights (not sent to the loggers)
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
        "recipe": " + ".join(r.split("/")[-1] for r in run.composition.recipes) or "none",
        "tags": list(cfg.get("tags") or []),
        "data": model.spec["splits"],
    } | provenance(cfg.seed)
    if trainer.is_global_zero:
        figures = []
        if cfg.get("extras", {}).get("figures", True):
            figures = [plots.learning_curves(model.history, model.main_metric, folder.learning_curves)]
            figures += model.save_figures(folder.path, datamodule)
        log_figures(trainer.loggers, {path.stem: path for path in figures if path}, trainer.global_step)
        log_run_summary(trainer.loggers, parameters, metrics)
        write_whole(folder.history, json.dumps(model.history) + "\n")  # per-epoch curves
        write_metrics(metrics, folder, f"train: {cfg.get('run_name', '')}")
    return Trained(metrics, model, datamodule)


# --- evaluation ----------------------------------------------------------------------------------------------
def evaluation_data_config(spec_data: dict, cfg: DictConfig, overrides: tuple[str, ...]):
    """The checkpoint's data config with the command line's `data.*` overrides; `data=X` replaces it.

    The stored config never downloads (its paths are another machine's): `data.download=true` given
    here does.
    """
    keys = [override_key(o) for o in overrides]
    if "data" in keys and cfg.get("data") is not None:  # another preset, at the pixel scale the model was trained on
        scaling = spec_data.get("scaling")
        return OmegaConf.merge(cfg.data, {"scaling": scaling}) if scaling and "scaling" in cfg.data else cfg.data
    stored = dict(spec_data) | ({"download": False} if "download" in spec_data else {})
    dotlist = [o.lstrip("+")[len("data.") :] for o in overrides if o.lstrip("+").startswith("data.")]
    return OmegaConf.merge(OmegaConf.create(stored), OmegaConf.from_dotlist(dotlist))


def evaluation_datamodule(model, spec: dict, cfg: DictConfig, overrides: tuple[str, ...]):
    """The data to evaluate on, served as the model saw its own; other shapes or classes are one sentence."""
    trained_on = model.data
    data_cfg = evaluation_data_config(spec["data"], cfg, overrides)
    check_config(OmegaConf.create({"data": plain(data_cfg)}), None)
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


def same_data(spec: dict, measured: dict, cfg: DictConfig, overrides: tuple[str, ...]) -> bool:
    """Whether the split evaluated is the one the checkpoint's run measured; other data the user did not ask for
    (a changed file, a moved folder) is refused."""
    split = cfg.split
    before = (spec.get("splits") or {}).get(split)
    if not isinstance(before, dict) or "fingerprint" not in before:  # a checkpoint from before fingerprints
        return True
    if before["fingerprint"] == measured[split]["fingerprint"]:
        return True
    asked = any(override_key(o).split(".")[0] == "data" for o in overrides)
    if not asked:
        raise UserError(
            f"checkpoint {cfg.ckpt_path} was measured on another {split} split than its data config reads now "
            f"({before['examples']} examples then, {measured[split]['examples']} now, and not the same ones): the "
            f"data changed since; pass data.path=... (or data=...) to evaluate on other data on purpose"
        )
    return False


def handed(run: Run) -> Evaluation:
    """What the learner's evaluate options may use: other checkpoints' models and other data presets."""
    cfg = run.cfg

    def data_preset(name: str, scaling: str):
        data_cfg = preset("data", name, f"paths.data_dir={cfg.paths.data_dir}", f"++data.scaling={scaling}")
        check_config(OmegaConf.create({"data": plain(data_cfg)}), None)
        with building("data"):
            datamodule = build_datamodule(data_cfg)
            datamodule.prepare_data()
        return datamodule

    def load_model(path: str):
        return model_from_checkpoint(load_checkpoint(path, run.composition.config_folders), path)

    return Evaluation(load_model, data_preset, tuple(presets("data")), int(cfg.seed))


def use(run: Run, model, spec: dict) -> dict:
    """The modes that use a trained model: its predictions, samples, an export or its demo page (zoo.serving)."""
    from zoo import serving

    cfg, folder = run.cfg, run.folder
    constants = serving.serving(spec)
    model = model.cpu().eval()
    if cfg.mode == "demo":
        from zoo.demo_page import serve

        title = f"{spec['model']['_target_'].rsplit('.', 1)[-1]} ({Path(cfg.ckpt_path).name})"
        return serve(model, constants, title, cfg.port, cfg.top_k, cfg.seed, before=lambda: record(run))
    record(run)
    if cfg.mode == "predict":
        prompt = cfg.get("prompt")
        return serving.predict(model, constants, folder, cfg.inputs, None if prompt is None else str(prompt), cfg.top_k)
    if cfg.mode == "sample":
        return serving.sample(model, folder, cfg.n, cfg.seed)
    from zoo.exporting import export

    return export(model, constants, folder, cfg.format, cfg.tolerance, cfg.inputs, cfg.seed)


def evaluate(run: Run) -> dict:
    """evaluate.py's task: the checkpoint measured on a split (or its generation); returns metrics.json's content."""
    with signals.interruptible("the evaluation stopped before it wrote its metrics; run it again"):
        return _evaluate(run)


def _evaluate(run: Run) -> dict:
    cfg, folder, overrides = run.cfg, run.folder, run.composition.overrides
    learner_options = check_config(cfg, EvaluateOptions)
    check_mode_options(cfg, overrides, learner_options)
    checkpoint = load_checkpoint(cfg.ckpt_path, run.composition.config_folders)
    spec = checkpoint["zoo"]
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    model = model_from_checkpoint(checkpoint, cfg.ckpt_path)
    metrics = {"mode": cfg.mode}
    if cfg.mode in USING:
        trainer = None
        metrics |= use(run, model, spec)
    elif cfg.mode == "generate":
        evaluation = handed(run)
        options = check_learner_options(model.generate, learner_options, type(model).__name__, cfg.mode)
        datamodule = evaluation_datamodule(model, spec, cfg, overrides) if model.generates_from_data else None
        record(run)
        metrics["generated"] = model.generate(folder.path, datamodule, evaluation, **options)
        trainer = None
    else:
        evaluation = handed(run)
        options = check_learner_options(model.evaluate_options, learner_options, type(model).__name__, cfg.mode)
        datamodule = evaluation_datamodule(model, spec, cfg, overrides)
        measured = measured_on(datamodule, (cfg.split,))
        same = same_data(spec, measured, cfg, overrides)
        print(
            f"evaluating on the {cfg.split} split: {measured[cfg.split]['examples']} examples, "
            f"{'the ones' if same else 'not the ones'} the checkpoint's run measured",
            flush=True,
        )
        check_batch_limits(cfg.trainer, datamodule, (cfg.split,))
        with building("logger"):
            loggers = instantiate_group(cfg.get("logger"))
        trainer = build_trainer(cfg, [], loggers)
        check_precision(cfg.trainer.get("precision", "32-true"), trainer)
        record(run)
        measure = trainer.test if cfg.split == "test" else trainer.validate
        with lightning_refusals():
            measure(model, datamodule=datamodule, verbose=False)
        metrics |= _scalars(trainer.callback_metrics, f"{cfg.split}/")
        metrics |= model.evaluate_options(datamodule, folder.path, evaluation, **options)
        metrics |= {"data": measured, "same_data_as_training": same}
    metrics |= {"n_params": sum(p.numel() for p in model.parameters()), "checkpoint": str(cfg.ckpt_path)}
    metrics |= {"tags": list(cfg.get("tags") or [])} | provenance(cfg.seed)
    if trainer is None or trainer.is_global_zero:
        if trainer is not None:
            model.save_figures(folder.path, datamodule)
        write_metrics(metrics, folder, "evaluate")
    return metrics
