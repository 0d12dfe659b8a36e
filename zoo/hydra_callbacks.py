"""Hydra callbacks: checks that must happen before Hydra itself starts a run."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback

from zoo.errors import EXIT_USER_ERROR


def _require_writable(folder: str) -> None:
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        print(
            f"error: cannot write the run folder {folder} ({err.strerror or err}); "
            f"pass hydra.run.dir=<a folder you can write>",
            file=sys.stderr,
        )
        sys.exit(EXIT_USER_ERROR)


class RequireWritableOutput(Callback):
    """Fail with one sentence, before anything runs, when the run (or sweep) folder cannot be written."""

    # Hydra calls these before it sets HydraConfig, which the folders' ${hydra:...} parts read.
    def on_run_start(self, config, **kwargs) -> None:
        HydraConfig.instance().set_config(config)
        _require_writable(config.hydra.run.dir)

    def on_multirun_start(self, config, **kwargs) -> None:
        HydraConfig.instance().set_config(config)
        _require_writable(config.hydra.sweep.dir)
