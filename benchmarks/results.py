"""Every figure the project states, measured again by one command, each to its record (zoo/records.py).

    make results                 # all of them, one after another (hours on a 2-core CPU)
    make results ONLY=smoke      # one record; `python benchmarks/results.py --list` names them with their cost

default_<model>  `python train.py model=<model> data=<its data>` at its CPU defaults over seeds 1, 2, 3: the
                 card's figure and the band the slow test holds it to (data and metric: the model's `about`).
smoke            every model on its data for two epochs, seeds 0, 1, 2: the band the default suite holds to.
tables           the bundled tables (perceptron on iris, mlp on breast_cancer and on diabetes) over seeds
                 1, 2, 3, beside scikit-learn's least-squares line on the same diabetes splits.
quality_*        benchmarks/quality.py against the plain reference scripts on real data (word, resnet, fast, fast_lr).
section_<name>   a lecture section at the default scale: its verdicts and time.
bench            make bench: the shared trainer against hand-written loops (records bench_*).
suite            `make test` in a fresh clone of this commit, timed (README's suite time).
predict          benchmarks/latency.py: each predicting default's latency, PyTorch eager and onnxruntime.
demo_page        benchmarks/demo_page.py: README's picture of the demo page (docs/gallery/demo_page.png).

A default run's pictures go to docs/gallery/ (one per model) for README's gallery and the cards.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT

from sections import SECTIONS
from zoo import records
from zoo.catalog import list_models
from zoo.composing import presets
from zoo.errors import UserError
from zoo.run import train
from zoo.starting import compose_run

GALLERY = ROOT / "docs" / "gallery"
DEFAULT_SEEDS = (1, 2, 3)
SMOKE_SEEDS = (0, 1, 2)
SMOKE = ["trainer.max_epochs=2", "callbacks.early_stopping=null"]
QUIET = ["trainer=cpu", "callbacks.progress_bar=null", "extras.print_config=false"]
# what each family's run draws that shows it best, in order of preference
PICTURES = ("decision_boundary", "samples", "segmentation", "detections", "captions", "reconstructions", "generated",
            "confusion_matrix")  # fmt: skip


@functools.cache
def about(model: str) -> dict:
    return list_models()[model].about


def pair(model: str) -> list[str]:
    return [f"model={model}", f"data={about(model)['data']}"]


def run(overrides: list[str], keep_picture: str | None = None) -> dict:
    with tempfile.TemporaryDirectory() as out:
        metrics = train(compose_run("train", [*QUIET, *overrides], out))
        if keep_picture:
            file_picture(Path(out), keep_picture)
    kept = ("fit_seconds", "n_params", "epochs")
    return {k: v for k, v in metrics.items() if records.numeric(v) and (k.startswith(("test/", "val/")) or k in kept)}


def file_picture(run_dir: Path, model: str) -> None:
    drawn = sorted(run_dir.glob("**/*.png"))
    ranked = [p for name in PICTURES for p in drawn if p.stem.startswith(name)]
    if ranked or drawn:
        GALLERY.mkdir(parents=True, exist_ok=True)
        shutil.copy((ranked or drawn)[0], GALLERY / f"{model}.png")
        small(GALLERY / f"{model}.png")


def small(picture: Path, side: int = 360) -> None:
    """A gallery picture at most `side` pixels wide and high: README shows many of them."""
    from PIL import Image

    with Image.open(picture) as image:
        image.thumbnail((side, side))
        image.save(picture, optimize=True)


def entry(command: list[str], seed: int, metrics: dict, label: str = "") -> dict:
    return {"label": label, "command": "python train.py " + " ".join(command), "seeds": [seed], "metrics": metrics}


def default(model: str) -> None:
    runs = []
    for seed in DEFAULT_SEEDS:
        command = [*pair(model), f"seed={seed}"]
        runs.append(entry(command, seed, run(command, keep_picture=model if seed == DEFAULT_SEEDS[0] else None)))
        print(f"default {model} seed {seed}: {runs[-1]['metrics'].get(about(model)['metric'])}", flush=True)
    what = f"{model} at its CPU defaults on data={about(model)['data']}"
    records.write(f"default_{model}", {"what": what, "metric": about(model)["metric"], "runs": runs,
                                       "band": records.bands(runs)})  # fmt: skip


def smoke() -> None:
    runs, bands = [], {}
    for model in presets("model"):
        mine = []
        for seed in SMOKE_SEEDS:
            command = [*pair(model), *SMOKE, f"seed={seed}"]
            mine.append(entry(command, seed, run(command), label=model))
        runs += mine
        bands[model] = records.bands(mine)
        print(f"smoke {model}: {bands[model].get(about(model)['metric'])}", flush=True)
    records.write("smoke", {"what": "every model on its data, two epochs", "overrides": SMOKE, "runs": runs,
                            "bands": bands})  # fmt: skip


def tables() -> None:
    from sklearn.linear_model import LinearRegression

    from zoo.run import prepare

    runs, bands = [], {}
    for name, command in {"perceptron_iris": ["model=perceptron", "data=iris"],
                          "mlp_breast_cancer": ["model=mlp", "data=breast_cancer"],
                          "mlp_diabetes": ["model=mlp", "data=diabetes"]}.items():  # fmt: skip
        mine = []
        for seed in DEFAULT_SEEDS:
            metrics = run([*command, f"seed={seed}"])
            if name == "mlp_diabetes":  # the least-squares line on the same splits, the figure to beat
                with tempfile.TemporaryDirectory() as out:
                    cfg = compose_run("train", [*QUIET, *command, f"seed={seed}"], out)
                    splits = {k: (s.x.numpy(), s.y.numpy()) for k, s in prepare(cfg).datamodule.splits.items()}
                metrics["linear_regression/test/r2"] = LinearRegression().fit(*splits["train"]).score(*splits["test"])
            mine.append(entry([*command, f"seed={seed}"], seed, metrics, label=name))
        runs += mine
        bands[name] = records.bands(mine)
    records.write("tables", {"what": "the bundled tables at their defaults", "runs": runs, "bands": bands})


def quality(what: str) -> None:
    data = {"word": ["--wikitext-dev", "../shared/data/wikitext-2"],
            "resnet": ["--cifar-dev", "../shared/data/cifar10-dev/cifar10_dev.npz"],
            "fast": ["--cifar-dev", "../shared/data/cifar10-dev/cifar10_dev.npz", "--seeds", "5"],
            "fast_lr": ["--cifar-dev", "../shared/data/cifar10-dev/cifar10_dev.npz", "--seeds", "2"]}[what]  # fmt: skip
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "quality.py"), what, *data], cwd=ROOT, check=True)


def section(name: str) -> None:
    """One lecture section at the default scale, in its own process; its verdicts and time to a record."""
    import json
    import os

    with tempfile.TemporaryDirectory() as reports:
        command = [sys.executable, "-m", "sections", name, "--scale", "default"]
        subprocess.run(command, cwd=ROOT, env={**os.environ, "ZOO_REPORTS": reports}, check=True)
        summary = json.loads((Path(reports) / name / "summary.json").read_text())
    records.write(f"section_{name}", {"what": f"`make section-{name}` at the default scale",
                                      "command": f"make section-{name}", **summary})  # fmt: skip


def suite() -> None:
    """`make test` (what CI runs: .ci/run) in a fresh clone of this checkout's commit, timed."""
    import re

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["git", "clone", "-q", str(ROOT), f"{tmp}/zoo"], check=True)
        started = time.perf_counter()
        done = subprocess.run([".ci/run"], cwd=f"{tmp}/zoo", capture_output=True, text=True)
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"make test failed in the fresh clone:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    passed = int(re.findall(r"(\d+) passed", done.stdout)[-1])
    records.write(
        "suite",
        {
            "what": "make test from a fresh clone, installing included",
            "runs": [
                {
                    "label": "make test",
                    "command": ".ci/run",
                    "seeds": [],
                    "metrics": {"seconds": seconds, "passed": passed},
                }
            ],
        },
    )


def script(name: str) -> None:
    """A script of benchmarks/ that writes its own record or picture."""
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / name)], cwd=ROOT, check=True)


def bench() -> None:
    """make bench: each script writes its own record."""
    subprocess.run(["make", "bench"], cwd=ROOT, check=True)


MEASUREMENTS = {
    "smoke": (smoke, "about 5 min"),
    "tables": (tables, "about 2 min"),
    **{f"default_{m}": (lambda m=m: default(m), "minutes: three CPU-default runs") for m in presets("model")},
    "quality_word": (lambda: quality("word"), "about 30 min, needs ../shared/data/wikitext-2"),
    "quality_resnet": (lambda: quality("resnet"), "about 20 min, needs ../shared/data/cifar10-dev"),
    "quality_fast": (lambda: quality("fast"), "about 20 min, needs ../shared/data/cifar10-dev"),
    "quality_fast_lr": (lambda: quality("fast_lr"), "about 8 min, needs ../shared/data/cifar10-dev"),
    **{f"section_{n}": (lambda n=n: section(n), "seconds to minutes: one section") for n in SECTIONS},
    "bench": (bench, "about 6 min: the records bench_*"),
    "suite": (suite, "minutes: a fresh clone's make test"),
    "predict": (lambda: script("latency.py"), "about 20 min: each predicting default trained, exported and timed"),
    "demo_page": (lambda: script("demo_page.py"), "about 2 min, needs ../shared/data/cifar10-dev and Chromium"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("only", nargs="*", help="record names (default: all)")
    parser.add_argument("--list", action="store_true", help="name every record with its cost")
    args = parser.parse_args()
    if args.list:
        for name, (_, cost) in MEASUREMENTS.items():
            print(f"{name:<24} {cost}")
        return
    unknown = [name for name in args.only if name not in MEASUREMENTS]
    if unknown:
        raise UserError(f"no record named {', '.join(unknown)}; `python benchmarks/results.py --list` names them")
    for name in args.only or list(MEASUREMENTS):
        started = time.perf_counter()
        MEASUREMENTS[name][0]()
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    from zoo.way_out import way_out

    with way_out("the record being measured was not written; run the command again"):
        main()
