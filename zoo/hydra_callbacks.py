"""Hydra callbacks: what must happen around Hydra's own work on a run folder.

Before a run: its folder must be writable, not in use by another run (a lock the kernel drops when a
process dies, so a killed run leaves nothing stuck), and not hold another run unless it is resumed
with a compatible config. Hydra writes `.hydra/` before the task starts, so these checks cannot wait
for the task. After a sweep: a summary of every job.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import tempfile
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobStatus
from hydra.experimental.callback import Callback
from omegaconf import OmegaConf

from zoo.config import task_config
from zoo.errors import EXIT_USER_ERROR, UserError, failed_job

# Keys a resumed run may change: how long and where it runs, what it logs. Anything else (model, data,
# seed, the optimisation) would continue one run with the weights and state of another.
RESUMABLE_CHANGES = (
    "resume",
    "ckpt_path",
    "test",
    "compile",
    "channels_last",
    "trainer.max_epochs",
    "trainer.max_steps",
    "trainer.min_epochs",
    "trainer.accelerator",
    "trainer.devices",
    "trainer.num_nodes",
    "trainer.strategy",
    "trainer.precision",
    "trainer.sync_batchnorm",
    "callbacks",
    "logger",
)
RUN_MARKERS = ("checkpoints", "metrics.json")  # what a run that did work leaves (a refused one leaves .hydra/)
_held_locks: dict[Path, object] = {}  # folder -> its open lock file, held as long as the process


def refuse(sentence: str) -> None:
    """`error: <sentence>` and exit 2, where Hydra itself (not a job) is running: a callback, a sweeper."""
    print(f"error: {sentence}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def _require_writable(folder: str) -> None:
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UserError(
            f"cannot write the run folder {folder} ({err.strerror or err}); pass hydra.run.dir=<a folder you can write>"
        ) from err


def _lock(folder: Path) -> None:
    """Hold folder/.lock for the life of this process; another holder means another run is using it."""
    if folder.resolve() in _held_locks:  # this process's own earlier run (the Python API)
        return
    handle = open(folder / ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as err:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise UserError(
            f"the run folder {folder} is in use by a run that is still going ({holder}); wait for it to end "
            f"or pass another hydra.run.dir"
        ) from err
    handle.truncate(0)
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    _held_locks[folder.resolve()] = handle


def _flat(node, prefix: str = "") -> dict:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out |= _flat(value, f"{prefix}{key}.")
        return out or {prefix.rstrip("."): {}}
    return {prefix.rstrip("."): node}


def config_changes(old: dict, new: dict) -> dict[str, tuple]:
    """Dotted keys whose (unresolved) values differ between two task configs, with (old, new) values."""
    old, new = _flat(old), _flat(new)
    pairs = {k: (old.get(k, "<absent>"), new.get(k, "<absent>")) for k in old.keys() | new.keys()}
    return {k: pair for k, pair in sorted(pairs.items()) if pair[0] != pair[1]}


def _allowed(key: str) -> bool:
    return any(key == allowed or key.startswith(f"{allowed}.") for allowed in RESUMABLE_CHANGES)


def _check_owner(folder: Path, task_cfg: dict) -> None:
    """A folder that holds a run is continued only by resume=true with the same model, data and seed."""
    held = [marker for marker in RUN_MARKERS if (folder / marker).exists()]
    if not held:
        return
    if not task_cfg.get("resume") or task_cfg.get("task_name") != "train":
        raise UserError(
            f"the run folder {folder} already holds a run ({', '.join(held)}); resume=true continues it, "
            f"or pass another hydra.run.dir"
        )
    saved = folder / ".hydra" / "config.yaml"
    if not saved.is_file():
        return  # resume_from says what is missing
    old = OmegaConf.to_container(OmegaConf.load(saved), resolve=False)
    changes = config_changes(old, task_cfg)
    refused = [k for k in changes if not _allowed(k)]
    if refused:
        shown = "; ".join(f"{k}: {changes[k][0]!r} -> {changes[k][1]!r}" for k in refused[:5])
        raise UserError(
            f"resume=true would continue the run in {folder} with another config ({shown}); only "
            f"how long and where it runs may change (trainer.max_epochs, trainer.devices, ...); "
            f"start a new run for the rest"
        )
    if changes:
        print(f"resuming {folder} with changes: {', '.join(changes)}", flush=True)


def _is_launched_rank() -> bool:
    """A DDP process other than the first re-runs the command in the first one's folder."""
    return any(os.environ.get(name, "0") != "0" for name in ("LOCAL_RANK", "RANK", "SLURM_PROCID"))


def claim_run_folder(folder: Path, task_cfg: dict) -> None:
    """The run folder is writable, no other live run uses it, and it holds no other run (unless resumed)."""
    _require_writable(str(folder))
    _lock(folder)
    _check_owner(folder, task_cfg)


class GuardRunFolder(Callback):
    """Fail with one sentence, before anything runs, when the run (or sweep) folder cannot be used."""

    # Hydra calls these before it sets HydraConfig, which the folders' ${hydra:...} parts read.
    def on_run_start(self, config, **kwargs) -> None:
        HydraConfig.instance().set_config(config)
        if _is_launched_rank():
            return
        try:
            claim_run_folder(Path(config.hydra.run.dir), task_config(config, resolve=False))
        except UserError as err:
            refuse(str(err))

    def on_multirun_start(self, config, **kwargs) -> None:
        HydraConfig.instance().set_config(config)
        if _is_launched_rank():
            return
        try:
            _require_writable(config.hydra.sweep.dir)
            _lock(Path(config.hydra.sweep.dir))
        except UserError as err:
            refuse(str(err))


class SweepSummary(Callback):
    """Every job of a sweep leaves status.json; at the end, summary.json lists them and failures set exit 2."""

    def on_job_end(self, config, job_return, **kwargs) -> None:
        if HydraConfig.get().mode.name != "MULTIRUN" or _is_launched_rank():
            return
        status = {"job": config.hydra.job.num, "overrides": list(config.hydra.overrides.task)}
        if job_return.status == JobStatus.FAILED:
            error = job_return._return_value  # the exception; reading .return_value would raise it
            status |= {"status": "crashed", "error": f"{type(error).__name__}: {error}"}
        elif failed_job:
            status |= {"status": "failed", "error": failed_job["error"]}
        else:
            status |= {"status": "completed"}
        Path(config.hydra.runtime.output_dir, "status.json").write_text(json.dumps(status, indent=2) + "\n")

    def on_multirun_end(self, config, **kwargs) -> None:
        if _is_launched_rank():
            return
        sweep = Path(config.hydra.sweep.dir)
        jobs = sorted(
            (json.loads(p.read_text()) for p in sweep.glob("*/status.json")), key=lambda status: status["job"]
        )
        (sweep / "summary.json").write_text(json.dumps(jobs, indent=2) + "\n")
        failed = [job for job in jobs if job["status"] != "completed"]
        print(f"sweep: {len(jobs) - len(failed)} of {len(jobs)} jobs completed; summary in {sweep / 'summary.json'}")
        for job in failed:
            print(f"  job {job['job']} ({' '.join(job['overrides'])}) {job['status']}: {job['error']}", file=sys.stderr)
        if failed:
            sys.exit(EXIT_USER_ERROR)
