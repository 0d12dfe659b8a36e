"""The MLP at its table defaults against what a practitioner would pick, on real tables with missing values and text
categories: scikit-learn's HistGradientBoosting and a linear model, on the same splits.

    pip install palmerpenguins vega_datasets     # the tables, for this benchmark only
    python benchmarks/tables.py [--seeds 3]      # writes the record `tables_real`

Each table is written as a CSV file and trained as a user would: `python train.py model=mlp data=table
data.path=<file> data.target=<column> data.missing=fill seed=<s>` (the zoo's defaults otherwise). On the very rows
of that run's training split (its validation rows added, as neither reference holds any out) and scored on its
test rows: HistGradientBoosting{Classifier,Regressor} on the raw columns (categories as categories, gaps as they
are; its defaults), and LogisticRegression / Ridge on the zoo's own encoding of the rows (standardised numbers,
one-hot categories, gaps filled). Test accuracy for a class target, R^2 for a number, and the seconds each took.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT  # noqa: F401 - the zoo on the import path

from zoo import records
from zoo.run import train_run
from zoo.starting import compose_run

QUIET = ["trainer=cpu", "callbacks.progress_bar=null", "extras.print_config=false", "extras.figures=false"]


def real_tables(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (a CSV file, its target column), from the packages' own files."""
    import importlib.resources

    import pandas as pd

    penguins = importlib.resources.files("palmerpenguins") / "data" / "penguins.csv"
    vega = importlib.resources.files("vega_datasets") / "_data"
    cars = pd.DataFrame(json.loads((vega / "cars.json").read_text())).drop(columns=["Name", "Year"])  # a name: an id
    weather = pd.read_csv(vega / "seattle-weather.csv").drop(columns=["date"])  # a date: an id
    barley = pd.DataFrame(json.loads((vega / "barley.json").read_text()))
    tables = {
        "penguins (species)": (pd.read_csv(penguins), "species"),
        "penguins (body mass)": (pd.read_csv(penguins).drop(columns=["species"]), "body_mass_g"),
        "cars (origin)": (cars, "Origin"),
        "cars (miles per gallon)": (cars, "Miles_per_Gallon"),
        "seattle weather": (weather, "weather"),
        "barley (yield)": (barley.astype({"year": str}), "yield"),
    }
    out = {}
    for name, (frame, target) in tables.items():
        if frame[target].isna().any():
            frame = frame.dropna(subset=[target])  # a row without its target is no example
        path = folder / f"{name.split()[0]}_{target}.csv"
        frame.to_csv(path, index=False)
        out[name] = (path, target)
    return out


def references(datamodule, path: Path, target: str) -> dict[str, float]:
    """HistGradientBoosting on the raw rows and a linear model on the zoo's encoding, on the zoo's splits."""
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    table = datamodule.table()
    train, val, test = (index.numpy() for index in table["splits"])
    fit = np.concatenate([train, val])
    regression = table["task"] == "regression"
    frame = pd.read_csv(path)
    raw = frame.drop(columns=[target])
    for column in raw.columns:
        if not pd.api.types.is_numeric_dtype(raw[column]):
            raw[column] = raw[column].astype("category")
    y = table["y"].numpy()
    out = {}
    started = time.perf_counter()
    boosting = (HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier)(
        categorical_features="from_dtype", random_state=0
    )
    boosting.fit(raw.iloc[fit], y[fit])
    out["hgb/test/score"] = float(boosting.score(raw.iloc[test], y[test]))
    out["hgb/fit_seconds"] = time.perf_counter() - started
    x = table["x"].numpy()
    started = time.perf_counter()
    linear = Ridge() if regression else LogisticRegression(max_iter=5000)
    linear.fit(x[fit], y[fit])
    out["linear/test/score"] = float(linear.score(x[test], y[test]))
    out["linear/fit_seconds"] = time.perf_counter() - started
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--zoo", nargs="*", default=[], help="overrides for the zoo's side (a candidate default, "
                        "measured and printed; no record is written)")  # fmt: skip
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, (path, target) in real_tables(Path(scratch)).items():
            for seed in range(1, args.seeds + 1):
                command = ["model=mlp", "data=table", f"data.path={path}", f"data.target={target}",
                           "data.missing=fill", f"seed={seed}", *args.zoo]  # fmt: skip
                started = time.perf_counter()
                trained = train_run(compose_run("train", [*QUIET, *command], Path(scratch) / f"run_{name}_{seed}"))
                seconds = time.perf_counter() - started
                regression = trained.datamodule.table()["task"] == "regression"
                metrics = {"zoo/test/score": trained.metrics["test/r2" if regression else "test/acc"],
                           "zoo/fit_seconds": trained.metrics["fit_seconds"], "zoo/seconds": seconds,
                           "rows": len(trained.datamodule.table()["y"])}  # fmt: skip
                metrics |= references(trained.datamodule, path, target)
                shown = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items())
                print(f"{name}, seed {seed}: {shown}", flush=True)
                command = "python train.py " + " ".join(command).replace(str(path), f"<{path.name}>")
                runs.append({"label": f"{name} ({'R^2' if regression else 'accuracy'})", "command": command,
                             "seeds": [seed], "metrics": metrics})  # fmt: skip
    what = ("the MLP at its table defaults against HistGradientBoosting and a linear model on the same splits of real "
            "tables (palmerpenguins, vega_datasets)")  # fmt: skip
    labels = dict.fromkeys(run["label"] for run in runs)
    bands = {label: records.bands([run for run in runs if run["label"] == label]) for label in labels}
    for label, band in bands.items():
        zoo, linear = band["zoo/test/score"]["mean"], band["linear/test/score"]["mean"]
        print(f"{label:<40} zoo {zoo:.3f}  linear {linear:.3f}  hgb {band['hgb/test/score']['mean']:.3f}  "
              f"{'at least the linear model' if zoo >= linear else 'BELOW the linear model'}")  # fmt: skip
    if not args.zoo:
        records.write("tables_real", {"what": what, "runs": runs, "bands": bands})


if __name__ == "__main__":
    from zoo.way_out import way_out

    with way_out("the record was not written; run the command again"):
        main()
