"""Compare runs: python -m zoo.compare <folder> [<folder> ...] [--sort val/acc --descending]   (zoo-compare)

Each folder is a run folder (it holds metrics.json) or a sweep folder (its runs are the folders below
it that do). One table of the overrides that differ between the runs and their final metrics, printed
as Markdown and written as compare.md and compare.csv, and a PNG of their validation curves (from each
run's history.json), in --out (default: the first folder). A run folder is read as data from outside:
a damaged or foreign file in it becomes a note under the table, never the end of the comparison.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
from pathlib import Path

from omegaconf import OmegaConf

from zoo.errors import UserError
from zoo.files import write_whole
from zoo.run_folder import RunFolder
from zoo.tables import markdown


def _job_order(parts: tuple[str, ...]) -> list[tuple]:
    """Folders named by job number sort as numbers (2 before 10), others by name after them."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts]


def find_runs(folders: list[Path]) -> list[Path]:
    """Run folders given or below the folders given, in the order given, each sweep's by job number."""
    runs = []
    for folder in folders:
        if not folder.is_dir():
            raise UserError(f"{folder} is not a folder; give run folders or sweep folders")
        if RunFolder(folder).metrics.is_file():
            found = [folder]
        else:
            below = RunFolder.runs_below(folder)
            found = sorted(below, key=lambda p: _job_order(p.relative_to(folder).parts))
        if not found:
            raise UserError(f"{folder} holds no run (no metrics.json in it or below it)")
        runs += [run for run in found if run not in runs]
    return runs


def _problem(path: Path, err: Exception) -> str:
    return f"{path} cannot be read ({type(err).__name__}: {str(err).splitlines()[0][:120] if str(err) else ''})"


def read_json_mapping(path: Path, notes: list[str], kind=dict):
    """A JSON file that should hold a `kind`; anything else is a note and an empty one."""
    try:
        value = json.loads(path.read_text())
    except Exception as err:  # truncated, not text, a folder, gone: the same for the table
        notes.append(_problem(path, err))
        return kind()
    if not isinstance(value, kind):
        notes.append(f"{path} holds a {type(value).__name__}, not a {kind.__name__}; left out")
        return kind()
    return value


def overrides(run: Path, notes: list[str]) -> dict:
    """The command line's key=value overrides of a run, from its .hydra/overrides.yaml."""
    path = RunFolder(run).overrides
    if not path.exists():
        return {}
    try:
        items = OmegaConf.to_container(OmegaConf.load(path))
        if not isinstance(items, list):
            raise ValueError(f"a {type(items).__name__}, not a list")
    except Exception as err:
        notes.append(_problem(path, err))
        return {}
    pairs = (str(i).lstrip("+~").split("=", 1) for i in items if "=" in str(i))
    return {key: _typed(value) for key, value in pairs}


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


def sort_key(value, descending: bool) -> tuple:
    """Missing values and NaN sort last, whichever the direction."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        return (1, 0.0)
    return (0, -value if descending else value)


def plot_curves(curves: dict[Path, list], labels: dict[Path, str], metric: str, path: Path) -> Path | None:
    """One line per run of `metric` by epoch; None when no run logged it."""
    from matplotlib.ticker import MaxNLocator

    from zoo import plots

    drawn = {run: curve for run, curve in curves.items() if curve}
    if not drawn:
        return None
    fig, ax = plots.figure(figsize=(10, 4.5))
    for run, curve in drawn.items():
        ax.plot(range(1, len(curve) + 1), curve, marker="o", markersize=3, label=labels[run])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    ax.set(xlabel="epoch", ylabel=metric, title=f"{metric} of {len(drawn)} runs")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    fig.tight_layout()
    return plots.save_figure(fig, path)


def curve_of(run: Path, metric: str, epochs, notes: list[str]) -> list:
    """The epochs trained of `metric` (a re-validation of the best checkpoint after training is left out)."""
    path = RunFolder(run).history
    if not path.exists():
        return []
    curve = read_json_mapping(path, notes).get(metric, [])
    if not isinstance(curve, list) or not all(isinstance(v, (int, float)) for v in curve):
        notes.append(f"{path}: {metric} is not a list of numbers; no curve drawn")
        return []
    return curve[: max(int(epochs), 1)] if isinstance(epochs, int) and not isinstance(epochs, bool) else curve


def compare(folders: list[Path], sort: str | None, descending: bool, curve: str, out: Path | None) -> str:
    """Write compare.md, compare.csv and compare_curves.png; returns what is printed."""
    out = out or folders[0]
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give the folder the comparison is written to")
    runs = find_runs(folders)
    notes: list[str] = []
    written = {run: read_json_mapping(RunFolder(run).metrics, notes) for run in runs}
    settings = {run: overrides(run, notes) for run in runs}
    metrics = {run: final_metrics(written[run]) for run in runs}
    keys = sorted({k for s in settings.values() for k in s})
    differing = [k for k in keys if len({str(settings[run].get(k)) for run in runs}) > 1]
    names = sorted({k for m in metrics.values() for k in m})
    if sort is not None:
        if sort not in names:
            raise UserError(f"--sort {sort}: no run has that metric; choose one of {', '.join(names) or 'none'}")
        runs = sorted(runs, key=lambda run: sort_key(metrics[run].get(sort), descending))
    base = common_folder(runs)
    label = {run: str(run.resolve().relative_to(base)) if run.resolve() != base else run.name for run in runs}
    header = ["run", *differing, *names]
    rows = [
        [label[run], *(settings[run].get(k, "") for k in differing), *(metrics[run].get(n, "") for n in names)]
        for run in runs
    ]
    text = markdown(header, rows)
    table = io.StringIO()
    csv.writer(table).writerows([header, *rows])
    files = [write_whole(out / "compare.md", text), write_whole(out / "compare.csv", table.getvalue())]
    short = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    curve_labels = {  # only what differs between the runs names them; the run's folder when nothing does
        run: " ".join(f"{k.rsplit('.', 1)[-1]}={short(settings[run].get(k, ''))}" for k in differing) or label[run]
        for run in runs
    }
    curves = {run: curve_of(run, curve, written[run].get("epochs"), notes) for run in runs}
    plot = plot_curves(curves, curve_labels, curve, out / "compare_curves.png")
    if plot:
        files.append(plot)
    shown = "".join(f"\nnote: {note}" for note in dict.fromkeys(notes))
    return text + shown + f"\nwrote {', '.join(map(str, files))}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="zoo-compare", description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="run folders or sweep (multirun) folders")
    parser.add_argument("--sort", help="the metric to sort by, e.g. val/acc (default: the order found)")
    parser.add_argument("--descending", action="store_true", help="sort from the largest value")
    parser.add_argument("--curve", default="val/loss", help="the per-epoch metric to plot (default: val/loss)")
    parser.add_argument("--out", type=Path, help="where compare.md, compare.csv and the PNG go (default: first folder)")
    args = parser.parse_args(argv)
    print(compare(args.folders, args.sort, args.descending, args.curve, args.out))


if __name__ == "__main__":
    from zoo.way_out import way_out

    with way_out():
        main()
