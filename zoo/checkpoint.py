"""Checkpoints: written atomically, read only as tensors and plain containers (weights_only=True)."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from weakref import proxy

import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from zoo.errors import UserError


class AtomicCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that writes to a temporary file and renames it into place.

    A kill during a save leaves the previous best.ckpt / last.ckpt whole, so a resume never meets
    a truncated file.
    """

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        partial = f"{filepath}.partial"
        trainer.save_checkpoint(partial, self.save_weights_only)  # rank 0 writes, all ranks wait
        if trainer.is_global_zero:
            os.replace(partial, filepath)  # atomic on POSIX: readers see the old file or the new one
        trainer.strategy.barrier("atomic_checkpoint")
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))


def load_checkpoint(path) -> dict:
    """Load a zoo checkpoint safely; every failure is one sentence that names the file."""
    path = Path(str(path))
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist; train.py writes them to <run folder>/checkpoints/")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise UserError(
            f"checkpoint {path} holds Python objects that could run code when loaded, so it was refused "
            f"(only tensors and plain containers are read)"
        ) from err
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as err:
        raise UserError(f"checkpoint {path} is corrupt or truncated and cannot be read ({err})") from err
    if not isinstance(checkpoint, dict) or "zoo" not in checkpoint or "state_dict" not in checkpoint:
        raise UserError(f"checkpoint {path} was not written by this zoo's train.py (it has no model recipe)")
    return checkpoint
