"""Every option of a command line, checked before any work starts.

Types come from the constructors the options go to (zoo.config.check_types reads their annotations);
ranges come from the table below, by option name, the same in every config group. A value that
passes here and still makes a constructor fail becomes a sentence through `building(group)`.
"""

from __future__ import annotations

import contextlib
import math
import re

import hydra
from lightning.fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf

from zoo.config import check_types, plain
from zoo.errors import UserError


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


AT_LEAST_ONE = "an integer >= 1"
RANGES = {  # option name -> (accepts, what works); None always passes (an option switched off)
    **dict.fromkeys(
        [
            "width",
            "depth",
            "hidden",
            "hidden_size",
            "embedding_dim",
            "num_layers",
            "features",
            "latent_dim",
            "couplings",
            "scales",
            "res_blocks",
            "kernel_size",
            "d_steps",
            "eval_samples",
            "feature_epochs",
            "n_cues",
            "n_fillers",
            "branching",
            "train_sentences",
            "val_sentences",
            "test_sentences",
            "n_samples",
            "val_size",
            "train_size",
            "test_size",
            "canvas",
            "digit_size",
            "max_digits",
            "code_size",
            "max_detections",
            "beam_size",
            "max_length",
            "log_every_n_steps",
            "accumulate_grad_batches",
            "check_val_every_n_epoch",
            "num_nodes",
            "flush_logs_every_n_steps",
            "check_every",
            "bptt",
            "distance",
            "T_max",
        ],
        (lambda v: _int(v) and 1 <= v <= 10**7, f"{AT_LEAST_ONE} (at most 10^7)"),
    ),
    "length": (lambda v: _int(v) and 1 <= v <= 10**5, "an integer from 1 to 100000"),
    "ood_batch": (lambda v: _int(v) and 1 <= v <= 10**4, "an integer from 1 to 10000"),
    "max_epochs": (lambda v: _int(v) and (v == -1 or 1 <= v <= 10**7), "an integer >= 1, or -1 for no limit"),
    "max_steps": (lambda v: _int(v) and (v == -1 or 1 <= v <= 10**9), "an integer >= 1, or -1 for no limit"),
    "min_epochs": (lambda v: _int(v) and 0 <= v <= 10**7, "an integer >= 0"),
    "devices": (
        lambda v: v == "auto" or (_int(v) and (v == -1 or 1 <= v <= 1024)) or isinstance(v, (list, str)),
        "an integer >= 1, -1 for all, or auto",
    ),
    **dict.fromkeys(
        ["limit_train_batches", "limit_val_batches", "limit_test_batches"],
        (
            lambda v: (_int(v) and v >= 1) or (isinstance(v, float) and 0 < v <= 1),
            "a number of batches >= 1 or a fraction in (0, 1]; 0 would skip the work and report an untrained net",
        ),
    ),
    **dict.fromkeys(
        ["dropout", "val_fraction", "test_fraction"], (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)")
    ),
    **dict.fromkeys(
        [
            "lr",
            "init_std",
            "rtol",
            "atol",
            "temperature",
            "init_range",
            "chrono_init",
            "recurrent_gain",
            "eps",
            "step_size",
            "sigma",
            "background_weight",
        ],
        (lambda v: _number(v) and v > 0, "a positive number"),
    ),
    **dict.fromkeys(["min_score", "nms_iou"], (lambda v: _number(v) and 0 <= v <= 1, "a number in [0, 1]")),
    "alpha": (lambda v: _number(v) and 0 <= v < 0.5, "a number in [0, 0.5)"),
    **dict.fromkeys(
        ["weight_decay", "momentum", "noise", "min_delta", "gradient_clip_val", "factor", "gamma"],
        (lambda v: _number(v) and v >= 0, "a number >= 0"),
    ),
    **dict.fromkeys(
        ["patience", "refresh_rate", "num_workers", "num_sanity_val_steps", "clutter"],
        (lambda v: _int(v) and 0 <= v <= 10**7, "an integer >= 0"),
    ),
    **dict.fromkeys(
        ["dirpath", "save_dir", "default_root_dir"],
        (lambda v: isinstance(v, str) and v.strip() != "", "a path (a non-empty string)"),
    ),
    "filename": (  # the checkpoint's name inside its dirpath; the folder is dirpath's to say
        lambda v: isinstance(v, str) and v.strip() not in ("", ".", "..") and "/" not in re.sub(r"\{[^}]*\}", "", v),
        "a file name without '/' (the folder is callbacks.model_checkpoint.dirpath)",
    ),
    "scheduler_interval": (lambda v: v in ("epoch", "step"), "epoch or step"),
    "monitor": (
        lambda v: isinstance(v, str) and re.fullmatch(r"(train|val)/[\w/-]+", v) is not None,
        "a metric the learner logs, such as val/loss or val/acc",
    ),
    "save_top_k": (lambda v: _int(v) and v >= -1, "an integer >= -1 (-1 keeps every checkpoint)"),
    "seed": (lambda v: _int(v) and 0 <= v < 2**32, "an integer in [0, 2^32)"),
    "betas": (
        lambda v: isinstance(v, (list, tuple)) and len(v) == 2 and all(_number(b) and 0 <= b < 1 for b in v),
        "two numbers in [0, 1), e.g. [0.9, 0.999]",
    ),
    "channels": (
        lambda v: isinstance(v, (list, tuple)) and len(v) >= 1 and all(_int(c) and 1 <= c <= 10**5 for c in v),
        "a list of integers >= 1, e.g. [32, 64]",
    ),
}

NOT_NULL = {"monitor"}  # options whose null would only fail in the middle of training

TOP_LEVEL = {  # the entry points' own options: name -> (type, choices or None)
    "train": {"seed": int, "resume": bool, "test": bool, "compile": bool, "channels_last": bool, "ckpt_path": str,
              "optimized_metric": str},
    "evaluate": {"seed": int, "ckpt_path": str, "split": ("test", "val"), "mode": ("test", "generate"), "length": int,
                 "temperature": float, "prompt": (str, int, float), "ood": (list, str), "ood_scores": (list, str),
                 "ood_background": str, "ood_batch": int},
}  # fmt: skip


def check_range(key: str, value) -> None:
    name = key.rsplit(".", 1)[-1]
    if name not in RANGES or (value is None and name not in NOT_NULL):
        return
    accepts, works = RANGES[name]
    if not accepts(value):
        raise UserError(f"{key} must be {works}, got {value!r}")


def check_group(prefix: str, node: dict) -> None:
    """Type (from the _target_'s signature) and range of every option of one config entry."""
    target = node.get("_target_")
    if target is not None:
        try:
            check_types(hydra.utils.get_object(target), node, prefix)
        except (ImportError, AttributeError, ValueError) as err:
            raise UserError(f"{prefix}._target_ names nothing importable: {target!r}") from err
    for name, value in node.items():
        if isinstance(value, dict):
            check_group(f"{prefix}.{name}", value)
        elif not name.startswith("_"):
            check_range(f"{prefix}.{name}", value)


def _check_top_level(cfg: dict, command: str) -> None:
    for name, wanted in TOP_LEVEL[command].items():
        value = cfg.get(name)
        if value is None:
            continue
        if isinstance(wanted, tuple) and all(isinstance(w, str) for w in wanted):
            if value not in wanted:
                raise UserError(f"{name} must be one of {', '.join(wanted)}, got {value!r}")
            continue
        types = wanted if isinstance(wanted, tuple) else (wanted,)
        fits = any(isinstance(value, t) and not (isinstance(value, bool) and t is not bool) for t in types)
        if float in types and _number(value):
            fits = True
        if not fits:
            raise UserError(f"{name} must be {' or '.join(t.__name__ for t in types)}, got {value!r}")
        check_range(name, value)


def check_options(cfg: DictConfig, command: str = "train") -> None:
    """The whole composed config: the entry point's options, then every group, then what spans groups."""
    try:
        values = {key: plain(node) if isinstance(node, DictConfig) else OmegaConf.to_object(node)
                  if OmegaConf.is_config(node) else node for key, node in cfg.items() if key != "hydra"}  # fmt: skip
    except Exception as err:  # an interpolation that cannot resolve, e.g. a key a preset does not have
        raise UserError(f"the config cannot be resolved: {str(err).splitlines()[0]}") from err
    _check_top_level(values, command)
    for group in ("trainer", "data", "model", "callbacks", "logger"):
        node = values.get(group)
        if isinstance(node, dict):
            check_group(group, node)
    trainer = values.get("trainer") or {}
    epochs, every = trainer.get("max_epochs"), trainer.get("check_val_every_n_epoch")
    if _int(epochs) and epochs > 0 and _int(every) and every > epochs:
        raise UserError(
            f"trainer.check_val_every_n_epoch={every} is more than trainer.max_epochs={epochs}: no epoch would be "
            f"validated, so no checkpoint would be kept and nothing tested; use a value <= {epochs}"
        )
    data = values.get("data") or {}
    fractions = [data.get(k) for k in ("val_fraction", "test_fraction")]
    if all(_number(f) for f in fractions) and sum(fractions) >= 0.9:
        raise UserError(
            f"data.val_fraction + data.test_fraction = {sum(fractions):g} leaves too little to train on; "
            f"keep their sum below 0.9"
        )
    min_epochs = trainer.get("min_epochs")
    if _int(min_epochs) and _int(epochs) and epochs > 0 and min_epochs > epochs:
        raise UserError(f"trainer.min_epochs={min_epochs} is more than trainer.max_epochs={epochs}")


# What torch, Lightning and the datamodules raise when a constructor refuses its values.
REFUSALS = (ValueError, TypeError, RuntimeError, OverflowError, MemoryError, ZeroDivisionError, AssertionError,
            IndexError, KeyError, NotImplementedError, MisconfigurationException)  # fmt: skip


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


@contextlib.contextmanager
def building(what: str):
    """A constructor (torch, Lightning, a datamodule) that refuses the values it was given becomes a sentence."""
    try:
        yield
    except UserError:
        raise
    except Exception as err:
        cause = err
        while isinstance(cause, hydra.errors.InstantiationException) and cause.__cause__ is not None:
            cause = cause.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        if not isinstance(cause, REFUSALS):
            raise
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:300]
        if isinstance(cause, MemoryError) or "not enough memory" in reason or "can't allocate" in reason:
            reason = "it needs more memory than this machine has"
        raise UserError(f"the {what} options cannot be built: {reason}; check the {what}.* values") from err
