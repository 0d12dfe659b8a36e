"""Checkpoints: written whole, and read as data.

A checkpoint is a file from outside: it loads with `torch.load(weights_only=True)` (tensors and plain
containers only), and the model and data config stored in it may name only classes that the config
tree offers for a model or for data (zoo.offered.offered_targets), at any depth, and hold no
interpolation (a resolver would run when the config is read). Anything else is refused with a
sentence before a class is imported or an object built.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from weakref import proxy

import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from zoo.composing import CONFIG_DIR
from zoo.config import config_changes
from zoo.errors import UserError
from zoo.files import failed, partial_path, whole
from zoo.offered import offered_targets
from zoo.run_folder import RunFolder

# Classes that moved since checkpoints were first written: what an old checkpoint names -> where it is now.
RENAMED = {
    "zoo.learners.likelihood.Flow": "zoo.learners.flow.Flow",
    "zoo.learners.adversarial.GAN": "zoo.learners.gan.GAN",
    "datamodules.text.TextFileDataModule": "datamodules.text_files.TextFileDataModule",
    "datamodules.text.LongRangeDataModule": "datamodules.longrange.LongRangeDataModule",
    "datamodules.text.PTBDataModule": "datamodules.corpora.PTBDataModule",
    "datamodules.text.WikiText2DataModule": "datamodules.corpora.WikiText2DataModule",
    "datamodules.text.TinyShakespeareDataModule": "datamodules.corpora.TinyShakespeareDataModule",
}


def kept_checkpoint(filepath: str) -> str:
    """What is still whole when writing `filepath` fails."""
    return f"the last whole checkpoint is {filepath}" if os.path.isfile(filepath) else "no checkpoint had been written"


def save_atomically(trainer, filepath: str, weights_only: bool = False) -> None:
    """Write a checkpoint to a temporary file and rename it into place (also over a link, never through it).

    A kill during a save leaves the previous file whole; a full disk is one sentence and leaves no
    temporary file behind.
    """
    partial = partial_path(filepath)
    try:
        trainer.save_checkpoint(str(partial), weights_only)  # rank 0 writes, every rank takes part
        if trainer.is_global_zero:
            os.replace(partial, filepath)  # atomic on POSIX: readers see the old file or the new one
    except BaseException as err:
        raised = failed(partial, err, Path(filepath), kept_checkpoint(filepath)) if trainer.is_global_zero else err
        if raised is err:
            raise
        raise raised from err
    trainer.strategy.barrier("atomic_checkpoint")


class AtomicCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that writes atomically (save_atomically) and each state once.

    When an epoch is the best so far, last.ckpt becomes a link to the best.ckpt just written instead
    of a second copy of the same state; otherwise last.ckpt is written in full.
    """

    def _save_last_checkpoint(self, trainer, monitor_candidates: dict) -> None:
        if not self.save_last:
            return
        filepath = self.format_checkpoint_name(monitor_candidates, self.CHECKPOINT_NAME_LAST)
        self.last_model_path = filepath
        just_written = self._last_checkpoint_saved if self._last_global_step_saved == trainer.global_step else ""
        if not just_written or just_written == filepath:
            self._save_checkpoint(trainer, filepath)
            return
        if trainer.is_global_zero:  # made beside it and renamed over it: there is always a whole last.ckpt
            with whole(filepath, kept_checkpoint(filepath)) as partial:
                os.symlink(os.path.relpath(just_written, os.path.dirname(filepath)), partial)
        trainer.strategy.barrier("link_last_checkpoint")

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        save_atomically(trainer, filepath, self.save_weights_only)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))


def load_checkpoint(path, config_folders=(CONFIG_DIR,)) -> dict:
    """A zoo checkpoint, read safely and with its stored config checked against the classes the config
    folders offer (a composition's: zoo.composing.Composition.config_folders); every refusal names the file."""
    path = Path(str(path))
    if path.is_dir():
        raise UserError(f"checkpoint {path} is a folder; give a .ckpt file, e.g. {RunFolder(path).best}")
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist; train.py writes them into each run's folder (it prints it)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # the unpickler meets arbitrary bytes here: any failure means "not readable"
        # a torch.save archive whose pickle names a Python function or class (random bytes are no archive)
        if "global" in str(err).lower() and zipfile.is_zipfile(path):
            raise UserError(
                f"checkpoint {path} holds Python objects that could run code when loaded, so it was refused "
                f"(only tensors and plain containers are read)"
            ) from err
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise UserError(
            f"checkpoint {path} is corrupt, truncated or not a checkpoint, and cannot be read ({reason})"
        ) from err
    spec = checkpoint.get("zoo") if isinstance(checkpoint, dict) else None
    if not isinstance(spec, dict) or "state_dict" not in checkpoint:
        raise UserError(f"checkpoint {path} was not written by this zoo's train.py (it has no model spec)")
    for part in ("model", "data", "description"):
        if not isinstance(spec.get(part), dict):
            raise UserError(f"checkpoint {path} has a damaged spec: its {part} is not a mapping; train it again")
    for part, key in (("model", "learner"), ("data", "_target_")):
        named = spec[part].get(key)
        if isinstance(named, str) and named in RENAMED:
            spec[part] = spec[part] | {key: RENAMED[named]}
    check_spec(spec, path, config_folders)
    return checkpoint


def check_spec(spec: dict, path, config_folders) -> None:
    """The stored config names only offered classes and holds no interpolation, at any depth."""
    offered = offered_targets(config_folders)
    for part, allowed in (("model", offered["model"]), ("data", offered["data"]), ("description", frozenset())):
        for key, value in _leaves(spec[part], part):
            if isinstance(value, str) and "${" in value:
                raise UserError(
                    f"checkpoint {path} holds an interpolation at {key} ({value[:60]!r}), which would run a "
                    f"resolver when read, so it was refused before anything was built"
                )
            if (key.endswith("._target_") or key == "model.learner") and not (
                isinstance(value, str) and value in allowed
            ):
                raise UserError(
                    f"checkpoint {path} names {value!r} at {key}, which no config of this zoo offers, so it was "
                    f"refused before anything was built; a checkpoint may name only the models, learners, data "
                    f"sets, optimisers and schedulers of the config tree (add your own with hydra.searchpath)"
                )


def _leaves(node, prefix: str):
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                raise UserError(f"the stored config has a key that is not a name at {prefix}: {key!r}")
            yield from _leaves(value, f"{prefix}.{key}")
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _leaves(value, f"{prefix}.{i}")
    else:
        yield prefix, node


def check_same_network(checkpoint: dict, path, model: torch.nn.Module, model_cfg: dict) -> None:
    """Training continues from a checkpoint only into a network of the same parameters and shapes."""
    shapes = lambda state: {k: tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}  # noqa: E731
    if shapes(checkpoint["state_dict"]) == shapes(model.state_dict()):
        return
    changes = config_changes(checkpoint["zoo"].get("model", {}), model_cfg)
    network_first = sorted(changes, key=lambda k: (k.startswith(("optimizer", "scheduler")), k))
    named = "; ".join(f"model.{k}: {changes[k][0]} -> {changes[k][1]}" for k in network_first[:4])
    raise UserError(
        f"checkpoint {path} holds another network than this run builds ({named or 'other data sizes'}); "
        f"continue it with its own model settings, or train without ckpt_path"
    )
