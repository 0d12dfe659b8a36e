"""What every section shares: scales, training runs through the shared trainer, and the report."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from zoo.composing import home
from zoo.files import write_whole


def reports_dir() -> Path:
    """$ZOO_REPORTS, or reports/ in $ZOO_HOME or the folder the command runs in."""
    return Path(os.environ.get("ZOO_REPORTS") or home() / "reports")


SCALES = ("smoke", "default", "paper")


# smoke and default scales are sized for a CPU; paper takes whatever accelerator is there (a GPU).
TRAINER = {"smoke": "trainer=cpu", "default": "trainer=cpu", "paper": "trainer=default"}
# A trained verdict runs at least three seeds; a smoke run one, to show the section works.
SEEDS = {"smoke": (1,), "default": (1, 2, 3), "paper": (1, 2, 3)}
# A smoke run trains on a few batches of each epoch: it shows every step of the section works, and decides nothing.
SMOKE_BATCHES = "trainer.limit_train_batches=4"


def small_batch(fraction: float) -> list[str]:
    """A share of the digits' training split under 10 % holds fewer images than the default batch of 64."""
    return ["data.batch_size=32"] if fraction < 0.1 else []


def band(values) -> str:
    """mean ± spread over seeds, written as the records' bands are (zoo.records.band, zoo.cards.band_text)."""
    from zoo import records
    from zoo.cards import band_text

    return band_text(records.band([float(v) for v in values]))


def mean(values) -> float:
    import statistics

    return statistics.fmean(float(v) for v in values)


def history(run_dir: Path) -> dict:
    from zoo.run_folder import RunFolder

    return json.loads(RunFolder(run_dir).history.read_text())


class Report:
    """reports/<name>.md: tables, pictures (copied beside it) and one verdict line per claim."""

    def __init__(self, name: str, title: str, scale: str):
        self.name, self.scale = name, scale
        self.trainer = TRAINER[scale]  # the section's runs follow its scale
        self.reports = reports_dir()
        self.dir = self.reports / name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.lines = [f"# {title}", "", f"Scale: `{scale}`. Written by `make section-{name}`.", ""]
        self.verdicts: list[str] = []
        self.cards: dict[str, list[str]] = {}  # model -> facts this section measured for the model's card
        self.decided: dict[str, dict] = {}  # verdict key -> holds, its line, its conditions
        self.seeds = SEEDS[scale]
        self.images = 0
        self.start = time.perf_counter()

    def train(self, overrides: list[str], out_dir: Path, figures: bool = True) -> dict:
        """One `python train.py overrides` run, in this process; returns metrics.json's content."""
        return self.fit(overrides, out_dir, figures).metrics

    def fit(self, overrides: list[str], out_dir: Path, figures: bool = True):
        """Report.train, returning the trained objects too (zoo.run.Trained: metrics, model, datamodule); figures=False
        where the report shows none of the run's own pictures."""
        from zoo.run import train_run
        from zoo.starting import compose_run

        smoke = [SMOKE_BATCHES] if self.scale == "smoke" else []
        quiet = ["callbacks=none", "extras.print_config=false", f"extras.figures={str(figures).lower()}"]
        return train_run(compose_run("train", [*quiet, self.trainer, *smoke, *overrides], out_dir))

    def evaluate(self, overrides: list[str], out_dir: Path) -> dict:
        """One `python evaluate.py overrides` run, in this process; returns metrics.json's content."""
        from zoo.run import evaluate
        from zoo.starting import compose_run

        return evaluate(compose_run("evaluate", [self.trainer, *overrides], out_dir))

    def runs(self) -> Path:
        """A folder for this section's training runs."""
        path = self.dir / "runs"
        path.mkdir(exist_ok=True)
        return path

    def text(self, *lines: str) -> None:
        self.lines += [*lines, ""]

    def table(self, header: list[str], rows: list[list]) -> None:
        from zoo.tables import markdown

        self.lines += [*markdown(header, rows).splitlines(), ""]

    def scratch(self, name: str) -> Path:
        """A path for a picture drawn by the section itself, before image() files it in the report."""
        return self.runs() / name

    def image(self, path: Path, caption: str) -> None:
        self.images += 1
        target = self.dir / f"{self.images:02d}_{path.name}"
        shutil.copy(path, target)
        self.lines += [f"![{caption}]({self.name}/{target.name})", f"*{caption}*", ""]

    def verdict(self, claim: str, holds: bool, numbers: str, *, key: str, conditions: str = "") -> None:
        """One claim decided by its rule (`claim` states it, written before the numbers are known) on `numbers`.

        `key` names the verdict for the claims ledger (sections/claims.yaml); `conditions` names what the
        verdict needs that the slide does not say (an initialisation, a budget), and goes into its line.
        Only the default and paper scales decide a claim: a smoke run is too short to tell either way."""
        if self.scale == "smoke":
            said = "the smoke scale cannot decide this claim, `SCALE=default` does"
        else:
            said = "holds" if holds else "does not hold here"
        line = f"- **{claim}**: {said} ({numbers})" + (f"; conditions: {conditions}" if conditions else "")
        self.verdicts.append(line)
        decided = None if self.scale == "smoke" else bool(holds)
        self.decided[key] = {"holds": decided, "line": line, "conditions": conditions}

    def write(self) -> Path:
        seconds = time.perf_counter() - self.start
        out = self.reports / f"{self.name}.md"
        body = self.lines + ["## Verdicts", "", *self.verdicts, "", f"Runtime: {seconds:.0f} s on this machine."]
        write_whole(out, "\n".join(body) + "\n")
        summary = {"verdicts": self.verdicts, "decided": self.decided, "seconds": seconds}
        summary |= {"cards": self.cards} if self.cards else {}
        write_whole(self.dir / "summary.json", json.dumps(summary))
        print("\n".join(self.verdicts), f"\nwrote {out} in {seconds:.0f} s", sep="\n")
        return out
