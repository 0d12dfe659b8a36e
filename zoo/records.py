"""Records: every figure the project states comes from one of these files, written by the command that measured it.

A record is benchmarks/results/<name>.json (inside the package: zoo/results, a link to that folder): what was
measured (`command`, the runs with their `seeds` and `metrics`, and over seeds a `band` per metric: mean,
spread, min, max), where and with what (`machine`: CPU or GPU model and cores; `versions`; `commit`, with
`-dirty` when the tree had uncommitted changes) and when (`date`). README's tables, the docs pages and the
model cards are rendered from them (`make docs`); a test fails when a stated figure has no record.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import statistics
import subprocess
from pathlib import Path

from zoo.errors import UserError
from zoo.files import write_whole

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict:
    """The machine a figure was measured on: CPU model and cores, and the GPU when one was visible."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    found = {"cpu": cpu, "cores": os.cpu_count(), "system": platform.system()}
    import torch

    if torch.cuda.is_available():
        found["gpu"] = torch.cuda.get_device_name(0)
    return found


def versions() -> dict:
    found = {"python": platform.python_version()}
    for package in ("torch", "lightning", "hydra", "numpy", "torchvision", "sklearn"):
        try:
            found[package] = __import__(package).__version__
        except (ImportError, AttributeError):
            pass
    return found


def commit() -> str:
    """The checkout's commit, with `-dirty` when tracked files had changes; `unknown` outside a git checkout."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "HEAD") or "unknown"
    dirty = head != "unknown" and git("status", "--porcelain", "--untracked-files=no")
    return f"{head}-dirty" if dirty else head


def band(values: list[float]) -> dict:
    """Mean, spread (sample standard deviation; 0 for one value), min and max of a metric over seeds."""
    return {
        "mean": statistics.fmean(values),
        "spread": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def within(band: dict, value: float, widen: float = 2.0) -> bool:
    """Whether a figure measured again lies in its band: between the seeds' min and max, widened by `widen`
    spreads each way (another machine's or thread count's arithmetic moves a figure a little)."""
    margin = widen * band["spread"] + 1e-6 * max(1.0, abs(band["mean"]))
    return band["min"] - margin <= value <= band["max"] + margin


def numeric(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def bands(runs: list[dict]) -> dict:
    """A band for every finite numeric metric all the runs share."""
    if not runs:
        return {}
    names = set.intersection(*(set(run["metrics"]) for run in runs))
    return {
        name: band([run["metrics"][name] for run in runs])
        for name in sorted(names)
        if all(numeric(run["metrics"][name]) for run in runs)
    }


def write(name: str, record: dict) -> Path:
    """benchmarks/results/<name>.json, with where, when and with what it was measured; written whole."""
    record = {
        "name": name,
        **record,
        "machine": machine(),
        "versions": versions(),
        "commit": commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path = RESULTS / f"{name}.json"
    write_whole(path, json.dumps(record, indent=1) + "\n")
    print(f"record: {path}")
    return path


def read(name: str) -> dict:
    """One record, whole and parsed; a missing or damaged one is a sentence naming the command that writes it."""
    path = RESULTS / f"{name}.json"
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"no record {name!r} in {RESULTS}: `make results ONLY={name}` measures it") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"the record {path} cannot be read ({err}); `make results ONLY={name}` rewrites it") from None
    if not isinstance(record, dict) or record.get("name") != name:
        raise UserError(f"the record {path} is not the record {name!r}; `make results ONLY={name}` rewrites it")
    return record


def measured(name: str) -> dict | None:
    """The record, or None where it has not been measured; a damaged one is still a sentence."""
    return read(name) if name in names() else None


def names() -> list[str]:
    return sorted(path.stem for path in RESULTS.glob("*.json"))


def when_and_where(record: dict) -> str:
    """'2026-12-02, AMD EPYC 7B13 (2 cores)' or '..., NVIDIA H200': the provenance a stated figure carries."""
    where = record["machine"].get("gpu") or f"{record['machine']['cpu']} ({record['machine']['cores']} cores)"
    return f"{record['date'][:10]}, {where}"
