"""Compare runs: python -m zoo.compare <folder> [<folder> ...] [--sort val/acc --descending]

Each folder is a run folder (it holds metrics.json) or a sweep folder (its runs are the folders below
it that do). One table of the overrides that differ between the runs and their final metrics, printed
as Markdown and written as compare.md and compare.csv, and a PNG of their validation curves (from each
run's history.json), in --out (default: the first folder).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from omegaconf import OmegaConf

from zoo.errors import UserError, reported_as_sentences


def _job_order(parts: tuple[str, ...]) -> list[tuple]:
    """Folders named by job number sort as numbers (2 before 10), others by name after them."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts]


def find_runs(folders: list[Path]) -> list[Path]:
    """Run folders given or below the folders given, in the order given, each sweep's by job number."""
    runs = []
    for folder in folders:
        if not folder.is_dir():
            raise UserError(f"{folder} is not a folder; give run folders or sweep folders")
        if (folder / "metrics.json").is_file():
            found = [folder]
        else:
            below = [p.parent for p in folder.rglob("metrics.json")]
            found = sorted(below, key=lambda p: _job_order(p.relative_to(folder).parts))
        if not found:
            raise UserError(f"{folder} holds no run (no metrics.json in it or below it)")
        runs += [run for run in found if run not in runs]
    return runs


def overrides(run: Path) -> dict:
    """The command line's key=value overrides of a run, from its .hydra/overrides.yaml."""
    path = run / ".hydra" / "overrides.yaml"
    items = [str(o) for o in OmegaConf.load(path)] if path.is_file() else []
    return {key: _typed(value) for key, value in (i.lstrip("+~").split("=", 1) for i in items if "=" in i)}


def _typed(value: str):
    """An override's value as the number it spells, so the table rounds it and sorts it as one."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def final_metrics(metrics: dict) -> dict[str, float]:
    """The numbers of a run's metrics.json that compare runs: val/ and test/ metrics and the fit time."""
    numbers = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {k: v for k, v in numbers.items() if k.startswith(("test/", "val/")) or k == "fit_seconds"}


def common_folder(runs: list[Path]) -> Path:
    """The deepest folder that holds every run (a run's name in the table is its path below it)."""
    parts = [run.resolve().parts for run in runs]
    common = []
    for column in zip(*parts):
        if len(set(column)) > 1:
            break
        common.append(column[0])
    return Path(*common)


def markdown(header: list[str], rows: list[list]) -> str:
    show = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(show(v) for v in row) + " |" for row in rows]) + "\n"


def plot_curves(runs: list[Path], epochs: dict[Path, int], labels: dict[Path, str], metric: str, path: Path):
    """One line per run of `metric` by epoch: the epochs trained (a re-validation of the best checkpoint
    after training is left out); None when no run logged it."""
    from zoo import plots

    fig, ax = plots.plt.subplots(figsize=(10, 4.5))
    drawn = 0
    for run in runs:
        history = run / "history.json"
        curve = json.loads(history.read_text()).get(metric, []) if history.is_file() else []
        curve = curve[: max(int(epochs.get(run, len(curve))), 1)]
        if curve:
            ax.plot(range(1, len(curve) + 1), curve, marker="o", markersize=3, label=labels[run])
            drawn += 1
    if not drawn:
        plots.plt.close(fig)
        return None
    ax.set(xlabel="epoch", ylabel=metric, title=f"{metric} of {drawn} runs")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    fig.tight_layout()
    return plots.save_figure(fig, path)


def compare(folders: list[Path], sort: str | None, descending: bool, curve: str, out: Path | None) -> str:
    """Write compare.md, compare.csv and compare_curves.png; returns what is printed."""
    runs = find_runs(folders)
    settings = {run: overrides(run) for run in runs}
    written = {run: json.loads((run / "metrics.json").read_text()) for run in runs}
    metrics = {run: final_metrics(written[run]) for run in runs}
    keys = sorted({k for s in settings.values() for k in s})
    differing = [k for k in keys if len({settings[run].get(k) for run in runs}) > 1]
    names = sorted({k for m in metrics.values() for k in m})
    if sort is not None:
        if sort not in names:
            raise UserError(f"--sort {sort}: no run has that metric; choose one of {', '.join(names)}")
        missing = float("-inf") if descending else float("inf")
        runs = sorted(runs, key=lambda run: metrics[run].get(sort, missing), reverse=descending)
    base = common_folder(runs)
    label = {run: str(run.resolve().relative_to(base)) if run.resolve() != base else run.name for run in runs}
    header = ["run", *differing, *names]
    rows = [
        [label[run], *(settings[run].get(k, "") for k in differing), *(metrics[run].get(n, "") for n in names)]
        for run in runs
    ]
    out = out or folders[0]
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(header, rows)
    (out / "compare.md").write_text(text)
    with open(out / "compare.csv", "w", newline="") as file:
        csv.writer(file).writerows([header, *rows])
    short = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    curve_labels = {
        run: " ".join([label[run], *(f"{k.rsplit('.', 1)[-1]}={short(settings[run].get(k, ''))}" for k in differing)])
        for run in runs
    }
    epochs = {run: written[run]["epochs"] for run in runs if "epochs" in written[run]}
    plot = plot_curves(runs, epochs, curve_labels, curve, out / "compare_curves.png")
    files = [out / "compare.md", out / "compare.csv", *([plot] if plot else [])]
    return text + f"\nwrote {', '.join(map(str, files))}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m zoo.compare", description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="run folders or sweep (multirun) folders")
    parser.add_argument("--sort", help="the metric to sort by, e.g. val/acc (default: the order found)")
    parser.add_argument("--descending", action="store_true", help="sort from the largest value")
    parser.add_argument("--curve", default="val/loss", help="the per-epoch metric to plot (default: val/loss)")
    parser.add_argument("--out", type=Path, help="where compare.md, compare.csv and the PNG go (default: first folder)")
    args = parser.parse_args(argv)
    with reported_as_sentences():
        print(compare(args.folders, args.sort, args.descending, args.curve, args.out))


if __name__ == "__main__":
    main()
