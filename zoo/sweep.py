"""A sweep (python train.py -m ...): its folder is claimed like a run's, and summary.json lists every job.

Each job passes the same claim as a single run (zoo.run_folder), so a job whose folder holds another
run is refused and the sweep goes on. Each job's outcome (completed, failed with its sentence, crashed
with its log, interrupted) is kept in <sweep>/.jobs/<job>.json by the job's own process, whatever
launcher runs it, and summary.json is written from them after each job and at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode

from zoo.errors import EXIT_INTERNAL_ERROR, EXIT_USER_ERROR, Refusal, UserError
from zoo.files import write_whole
from zoo.run_folder import is_launched_rank, lock, note_holder, refuse_slurm_without_slurm, require_writable

JOBS = ".jobs"


def in_sweep() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def share_the_cores() -> None:
    """Jobs of a sweep that run side by side (hydra/launcher=joblib) share the cores: each gets cores / jobs torch
    threads, as two jobs of two threads each on two cores run several times slower than one after the other."""
    if not in_sweep():
        return
    launcher = HydraConfig.get().launcher
    if "Joblib" not in str(launcher.get("_target_", "")):
        return
    import torch

    cores = os.cpu_count() or 1
    jobs = launcher.get("n_jobs") or -1
    jobs = cores if jobs < 0 else min(jobs, cores)
    torch.set_num_threads(max(1, cores // jobs))


def record_job(status: str, error: str = "", started: float | None = None) -> None:
    """This job's outcome (and when it ran), in its sweep's folder; nothing outside a sweep."""
    if not in_sweep() or is_launched_rank():
        return
    hydra_cfg = HydraConfig.get()
    sweep = Path(hydra_cfg.sweep.dir)
    entry = {"job": hydra_cfg.job.num, "overrides": list(hydra_cfg.overrides.task), "status": status}
    entry |= {"folder": hydra_cfg.runtime.output_dir} | ({"error": error} if error else {})
    entry |= {"started": started, "ended": time.time()} if started is not None else {}
    write_whole(sweep / JOBS / f"{hydra_cfg.job.num}.json", json.dumps(entry, indent=2) + "\n")
    write_summary(sweep)


def jobs(sweep: Path) -> list[dict]:
    found = []
    for path in (sweep / JOBS).glob("*.json"):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue  # a record being replaced by another process's job; the next summary has it
    return sorted(found, key=lambda job: job.get("job", 0))


def write_summary(sweep: Path) -> list[dict]:
    listed = jobs(sweep)
    write_whole(sweep / "summary.json", json.dumps(listed, indent=2) + "\n")
    return listed


class SweepFolder(Callback):
    """Claims the sweep folder before the first job, and at the end prints and writes the summary."""

    def on_multirun_start(self, config, **kwargs) -> None:
        if is_launched_rank():
            return
        HydraConfig.instance().set_config(config)  # the folders' ${hydra:...} parts read it
        sweep = Path(config.hydra.sweep.dir)
        refuse_slurm_without_slurm(config)
        try:
            require_writable(sweep)
            lock(sweep, "sweep")
            note_holder(sweep)
            shutil.rmtree(sweep / JOBS, ignore_errors=True)  # the records of an earlier sweep into this folder
        except UserError as err:
            raise Refusal(str(err)) from err
        except Exception as err:  # fail closed: no job runs in a folder that could not be checked
            raise Refusal(f"the sweep folder {sweep} cannot be checked ({type(err).__name__}: {err})") from err

    def on_multirun_end(self, config, **kwargs) -> None:
        if is_launched_rank():
            return
        sweep = Path(config.hydra.sweep.dir)
        listed = write_summary(sweep)
        failed = [job for job in listed if job["status"] != "completed"]
        done = len(listed) - len(failed)
        print(f"sweep: {done} of {len(listed)} jobs completed; summary in {sweep / 'summary.json'}")
        for job in failed:
            print(f"  job {job['job']} ({' '.join(job['overrides'])}) {job['status']}: {job['error']}", file=sys.stderr)
        if any(job["status"] == "crashed" for job in failed):
            sys.exit(EXIT_INTERNAL_ERROR)
        if failed:
            sys.exit(EXIT_USER_ERROR)
