"""The shared trainer: compose -> data -> model sized from the data -> fit -> test -> metrics.json.

train.py and evaluate.py are thin Hydra entry points around `train(cfg)` and `evaluate(cfg, overrides)`.
"""
from __future__ import annotations

import inspect
import json
import logging
import subprocess
import time
from pathlib import Path

import hydra
import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar
from omegaconf import DictConfig, OmegaConf

from zoo.checkpoint import load_checkpoint
from zoo.errors import UserError

# Hydra routes log records to the console and the run's log file; Lightning's own console handler
# would print each of its lines a second time.
logging.getLogger("lightning").handlers.clear()

# learner name in configs/model/*.yaml -> the LightningModule that trains that kind of model
LEARNERS = {
    "classifier": "zoo.classifier.Classifier",
    "language_model": "zoo.language_model.LanguageModel",
    "gan": "zoo.gan.GAN",
    "flow": "zoo.flow.Flow",
}
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
# Model-config keys that other groups read through interpolations (a model proposes the pixel scale
# of its data and its gradient clipping; data.scaling and trainer.gradient_clip_val follow unless
# overridden). They configure neither the net nor the learner.
SETTINGS_FOR_OTHER_GROUPS = ("data_scaling", "gradient_clip_val")


# --- building blocks ---------------------------------------------------------------------------
def check_types(target, values: dict, prefix: str) -> None:
    """Each option must have the type of its default (an int where an int is expected, ...)."""
    for name, param in inspect.signature(target).parameters.items():
        default, value = param.default, values.get(name, param.default)
        if name not in values or default is param.empty or default is None or value is None:
            continue
        expected = type(default)
        ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True  # 1 is a fine float
        if expected in (list, tuple) and isinstance(value, (list, tuple)):
            ok = True
        if not ok and expected in (int, float, bool, str, list, tuple):
            if name == "batch_size" and value == "full":
                continue  # the one string an integer option takes: full-batch gradient descent
            raise UserError(f"{prefix}.{name} must be {expected.__name__} (like its default {default!r}), got {value!r}")


def instantiate(cfg, **kwargs):
    """hydra.utils.instantiate, but a UserError raised inside a constructor stays a UserError."""
    try:
        return hydra.utils.instantiate(cfg, **kwargs)
    except hydra.errors.InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        if isinstance(cause, TypeError) and "unexpected keyword" in str(cause):
            raise UserError(f"{cfg.get('_target_', 'a config entry')} got an option it does not know: {cause}") from err
        raise


def _plain(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def build_datamodule(data_cfg):
    check_types(hydra.utils.get_object(data_cfg["_target_"]), _plain(data_cfg), "data")
    return instantiate(data_cfg)


def build_model(model_cfg, info: dict):
    """Split the flat model config into network and learner options and size the net from `info`.

    Keys the learner's constructor names (optimizer, scheduler, ...) go to the learner; the rest,
    with `_target_`, build the network. The data's description (input_shape, num_classes, ...)
    fills the constructor arguments of either that ask for it, so nobody sets sizes by hand.
    """
    cfg = _plain(model_cfg)
    for key in SETTINGS_FOR_OTHER_GROUPS:
        cfg.pop(key, None)
    name = cfg.pop("learner", None)
    if name not in LEARNERS:
        raise UserError(f"model.learner must be one of {', '.join(LEARNERS)}, got {name!r}")
    learner_cls = hydra.utils.get_object(LEARNERS[name])
    learner_params = inspect.signature(learner_cls).parameters
    learner_kwargs = {k: cfg.pop(k) for k in list(cfg) if k in learner_params and k != "net"}
    for key in ("optimizer", "scheduler"):
        if learner_kwargs.get(key) is not None:
            learner_kwargs[key] = instantiate(learner_kwargs[key])
    net_cls = hydra.utils.get_object(cfg["_target_"])
    check_types(net_cls, cfg, "model")
    check_types(learner_cls, learner_kwargs, "model")
    net_params = inspect.signature(net_cls).parameters
    missing = [p.name for p in net_params.values()
               if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in cfg and p.name not in info]
    if missing:
        raise UserError(
            f"model {net_cls.__name__} needs {', '.join(missing)} from the data, but this data set only "
            f"describes {', '.join(info)}; pick a data set of the kind this model is made for"
        )
    net = instantiate(cfg, **{k: v for k, v in info.items() if k in net_params})
    return learner_cls(net=net, **learner_kwargs, **{k: v for k, v in info.items() if k in learner_params})


def check_config(cfg) -> None:
    """Catch impossible values before any work is done."""
    lr = OmegaConf.select(cfg, "model.optimizer.lr")
    if lr is not None and lr <= 0:
        raise UserError(f"model.optimizer.lr must be positive, got {lr}")
    epochs = OmegaConf.select(cfg, "trainer.max_epochs")
    if epochs is not None and epochs != -1 and epochs < 1:
        raise UserError(f"trainer.max_epochs must be >= 1 (or -1 for no limit), got {epochs}")


def build_trainer(cfg, callbacks: list, loggers: list) -> L.Trainer:
    show_progress = any(isinstance(cb, ProgressBar) for cb in callbacks)
    try:
        return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, enable_progress_bar=show_progress)
    except hydra.errors.InstantiationException as err:
        # Lightning says why the devices cannot be had (no GPU, too many devices, ...).
        reason = str(err.__cause__ or err).strip().splitlines()[0]
        raise UserError(f"the trainer settings cannot be met on this machine: {reason} (trainer=cpu always works)") from err


def _instantiate_group(group) -> list:
    return [instantiate(entry) for entry in (group or {}).values() if entry is not None]


def run_description(seed: int) -> dict:
    """Seed, library versions and git commit: what is needed to rerun this exactly."""
    import hydra as hydra_pkg

    info = {"seed": seed, "torch": torch.__version__, "lightning": L.__version__, "hydra": hydra_pkg.__version__}
    try:
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


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


def compose(config_name: str = "train", overrides=(), output_dir=None) -> DictConfig:
    """Compose a config as the command line would (for tests, benchmarks and the section scripts)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = hydra_compose(config_name, overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # so ${hydra:...} interpolations resolve as in a CLI run
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


def resume_from(cfg: DictConfig, out_dir: Path) -> str | None:
    """The checkpoint to continue from: ckpt_path, or with resume=true this run folder's last.ckpt."""
    path = cfg.get("ckpt_path")
    if cfg.get("resume") and path is None:
        last = out_dir / "checkpoints" / "last.ckpt"
        if not last.is_file():
            raise UserError(f"resume=true found no {last}; pass hydra.run.dir=<folder of the run to continue> "
                            f"or ckpt_path=<checkpoint>")
        path = str(last)
    if path is not None:
        load_checkpoint(path)  # refuses unsafe or corrupt files with a sentence before Lightning reads it
    return path


# --- the two commands -----------------------------------------------------------------------------
def train(cfg: DictConfig) -> dict:
    called = time.perf_counter()
    check_config(cfg)
    out_dir = Path(cfg.paths.output_dir)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build_datamodule(cfg.data)
    datamodule.prepare_data()
    info = datamodule.info
    model = build_model(cfg.model, info)
    model.recipe = {"model": _plain(cfg.model), "data": _plain(cfg.data), "info": info, "seed": cfg.seed}
    if getattr(datamodule, "vocab", None) is not None:
        model.recipe["vocab"] = datamodule.vocab.itos  # so text can be generated from the checkpoint alone

    if cfg.get("channels_last"):  # NHWC layout: faster convolutions on recent GPUs
        model = model.to(memory_format=torch.channels_last)
    if cfg.get("compile"):
        model.net.compile()  # in place, so checkpoint keys stay those of the plain net
    ckpt_path = resume_from(cfg, out_dir)
    if not model.automatic_optimization and cfg.trainer.get("strategy") == "ddp":
        # A GAN's discriminator step leaves the generator without gradients (and the generator step
        # ends with the discriminator's discarded): DDP must expect parameters without gradients.
        cfg.trainer.strategy = "ddp_find_unused_parameters_true"
    callbacks = _instantiate_group(cfg.get("callbacks"))
    trainer = build_trainer(cfg, callbacks, _instantiate_group(cfg.get("logger")))
    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    fit_seconds = time.perf_counter() - start

    metrics = _scalars(trainer.callback_metrics, "train/")
    checkpoint = next((cb for cb in callbacks if isinstance(cb, ModelCheckpoint)), None)
    best = checkpoint.best_model_path if checkpoint else ""
    if cfg.get("test") and best:
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
    } | run_description(cfg.seed)
    if trainer.is_global_zero:
        model.save_figures(out_dir, datamodule)
        (out_dir / "history.json").write_text(json.dumps(model.history) + "\n")  # per-epoch curves
        write_metrics(metrics, out_dir, f"train: {cfg.get('run_name', '')}")
    return metrics


def model_from_checkpoint(checkpoint: dict, path) -> L.LightningModule:
    """The model the checkpoint's recipe describes, with its weights; a mismatch is one sentence."""
    recipe = checkpoint["zoo"]
    model = build_model(recipe["model"], recipe["info"])
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        lines = str(err).splitlines()
        raise UserError(f"checkpoint {path} does not fit the model its recipe describes: "
                        f"{lines[1].strip() if len(lines) > 1 else err}") from err
    model.recipe = recipe
    return model


def evaluation_data_config(recipe_data: dict, cfg: DictConfig, overrides: list[str]):
    """The checkpoint's data config with the command line's `data.*` overrides; `data=X` replaces it."""
    keys = [o.split("=", 1)[0].lstrip("+~") for o in overrides]
    if "data" in keys:  # another preset, served at the pixel scale the model was trained on
        scaling = recipe_data.get("scaling")
        return OmegaConf.merge(cfg.data, {"scaling": scaling}) if scaling and "scaling" in cfg.data else cfg.data
    dotlist = [o.lstrip("+")[len("data."):] for o in overrides if o.lstrip("+").startswith("data.")]
    return OmegaConf.merge(OmegaConf.create(recipe_data), OmegaConf.from_dotlist(dotlist))


def generate(cfg: DictConfig, model, recipe: dict) -> str:
    """Sample text from a language-model checkpoint; printed and saved as generated.txt."""
    from datamodules.text import Vocab, detokenize

    if not hasattr(model, "generate") or "vocab" not in recipe:
        raise UserError(f"mode=generate needs a language-model checkpoint; {cfg.ckpt_path} holds a "
                        f"{recipe['model'].get('learner')}")
    vocab, level = Vocab(recipe["vocab"]), recipe["info"].get("level", "word")
    # a prompt continues a line, so words get no <eos> (unlike tokenize() on a corpus)
    tokens = list(str(cfg.prompt)) if level == "char" else str(cfg.prompt).split()
    prompt_ids = vocab.encode(tokens).tolist()
    ids = model.generate(prompt_ids, int(cfg.length), float(cfg.temperature), int(cfg.seed))
    text = detokenize([vocab.itos[i] for i in prompt_ids + ids], level)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "generated.txt").write_text(text + "\n")
    print(text)
    return text


def evaluate(cfg: DictConfig, overrides: list[str]) -> dict:
    checkpoint = load_checkpoint(cfg.ckpt_path)
    recipe = checkpoint["zoo"]
    if cfg.get("mode", "test") == "generate":
        return {"generated": generate(cfg, model_from_checkpoint(checkpoint, cfg.ckpt_path), recipe)}
    if cfg.get("mode", "test") != "test":
        raise UserError(f"mode must be test or generate, got {cfg.mode!r}")
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = build_datamodule(evaluation_data_config(recipe["data"], cfg, overrides))
    datamodule.prepare_data()
    trained_on, given = recipe["info"], datamodule.info
    if any(trained_on[k] != v for k, v in given.items() if k in trained_on):
        raise UserError(
            f"checkpoint {cfg.ckpt_path} was trained on data described as {trained_on}, but the data given is "
            f"{given}; pass a data preset with the same shape and classes"
        )
    model = model_from_checkpoint(checkpoint, cfg.ckpt_path)
    trainer = build_trainer(cfg, [], _instantiate_group(cfg.get("logger")))
    split = cfg.get("split", "test")
    if split not in ("test", "val"):
        raise UserError(f"split must be test or val, got {split!r}")
    run = trainer.test if split == "test" else trainer.validate
    metrics = _scalars(run(model, datamodule=datamodule, verbose=False)[0])
    out_dir = Path(cfg.paths.output_dir)
    if cfg.get("ood"):
        from zoo.ood import detect

        metrics |= detect(model, datamodule, cfg.ood, cfg, CONFIG_DIR, out_dir)
    metrics |= {"n_params": sum(p.numel() for p in model.parameters()), "checkpoint": str(cfg.ckpt_path)}
    metrics |= run_description(cfg.seed)
    if trainer.is_global_zero:
        model.save_figures(out_dir, datamodule)
        write_metrics(metrics, out_dir, "evaluate")
    return metrics
