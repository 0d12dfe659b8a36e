"""Records: every figure the project states comes from one of these files, written by the command that measured it.

A record is benchmarks/results/<name>.json: what was measured (`command`, the runs with their `seeds` and
`metrics`, and, over seeds, a `band` per metric: mean, spread, min, max), where and with what (`machine`:
CPU or GPU model and cores; `versions`; `commit`, with `-dirty` when the tree had uncommitted changes) and
when (`date`). README's measured tables and the docs pages are rendered from them (`make docs`), and a
test fails when a stated figure has no record or differs from it.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> dict:
    """The machine a figure was measured on: CPU model and cores, and the GPU when one was used."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    found = {"cpu": cpu, "cores": os.cpu_count(), "system": platform.system()}
    try:
        import torch

        if torch.cuda.is_available():
            found["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
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
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()

    head = git("rev-parse", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
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


def bands(runs: list[dict]) -> dict:
    """A band for every numeric metric the runs share."""
    names = set.intersection(*(set(run["metrics"]) for run in runs)) if runs else set()
    numbers = lambda name: [run["metrics"][name] for run in runs]  # noqa: E731
    return {
        name: band(numbers(name))
        for name in sorted(names)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers(name))
    }


def write(name: str, record: dict) -> Path:
    """benchmarks/results/<name>.json, with where, when and with what it was measured; written whole."""
    sys.path.insert(0, str(ROOT))
    from zoo.files import write_whole

    record = {
        "name": name,
        **record,
        "machine": machine(),
        "versions": versions(),
        "commit": commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path = RESULTS / f"{name}.json"
    write_whole(path, json.dumps(record, indent=1, sort_keys=False) + "\n")
    print(f"record: {path}")
    return path


def read(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def all_records() -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(RESULTS.glob("*.json"))}
