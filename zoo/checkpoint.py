"""Checkpoints: written atomically, read only as tensors and plain containers (weights_only=True)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from weakref import proxy

import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from zoo.errors import UserError


def save_atomically(trainer, filepath: str, weights_only: bool = False) -> None:
    """Write a checkpoint to a temporary file and rename it into place (also over a link, never through it).

    A kill during a save leaves the previous file whole, so a resume never meets a truncated file.
    """
    partial = f"{filepath}.partial"
    trainer.save_checkpoint(partial, weights_only)  # rank 0 writes, all ranks wait
    if trainer.is_global_zero:
        os.replace(partial, filepath)  # atomic on POSIX: readers see the old file or the new one
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
            partial = f"{filepath}.partial"
            if os.path.lexists(partial):
                os.remove(partial)
            os.symlink(os.path.relpath(just_written, os.path.dirname(filepath)), partial)
            os.replace(partial, filepath)
        trainer.strategy.barrier("link_last_checkpoint")

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        save_atomically(trainer, filepath, self.save_weights_only)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))


def load_checkpoint(path) -> dict:
    """Load a zoo checkpoint safely; every failure is one sentence that names the file."""
    path = Path(str(path))
    if path.is_dir():
        raise UserError(f"checkpoint {path} is a folder; give a .ckpt file, e.g. {path}/checkpoints/best.ckpt")
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist; train.py writes them to <run folder>/checkpoints/")
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
    if (
        not isinstance(checkpoint, dict)
        or not isinstance(checkpoint.get("zoo"), dict)
        or "state_dict" not in checkpoint
    ):
        raise UserError(f"checkpoint {path} was not written by this zoo's train.py (it has no model spec)")
    return checkpoint


def check_same_network(checkpoint: dict, path, model: torch.nn.Module, model_cfg: dict) -> None:
    """Training continues from a checkpoint only into a network of the same parameters and shapes."""
    from zoo.hydra_callbacks import config_changes

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
