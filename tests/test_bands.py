"""The zoo's own quality regression check: figures measured again stay in the bands their records hold.

The smoke record (two epochs per model, three seeds) holds the cheap models in the default suite; the
CPU-default records (`default_<model>`, three seeds each) hold every measured model in the slow suite.
"""

from __future__ import annotations

import pytest

from zoo import records
from zoo.catalog import list_models
from zoo.run import train
from zoo.starting import compose_run

# its tests share module fixtures: one worker runs them all (pytest-xdist --dist loadgroup)
pytestmark = pytest.mark.xdist_group("test_bands")

QUIET = ["trainer=cpu", "callbacks.progress_bar=null", "extras.print_config=false"]
CHEAP = ["perceptron", "mlp", "cnn", "resnet", "plainnet", "realnvp", "gan", "dcgan"]  # under a second each
DEFAULTS = [name.removeprefix("default_") for name in records.names() if name.startswith("default_")]


def first_run(record: dict, model: str) -> dict:
    return next(run for run in record["runs"] if f"model={model} " in run["command"] + " ")


def measured_again(run: dict, tmp_path) -> dict:
    overrides = run["command"].removeprefix("python train.py ").split()
    return train(compose_run("train", [*QUIET, *overrides], tmp_path))


@pytest.fixture(scope="module")
def models():
    return list_models()


@pytest.mark.parametrize("model", CHEAP)
def test_a_smoke_figure_stays_in_its_band(model, models, tmp_path):
    smoke = records.read("smoke")
    metric = models[model].about["metric"]
    value = measured_again(first_run(smoke, model), tmp_path)[metric]
    assert records.within(smoke["bands"][model][metric], value), (model, metric, value, smoke["bands"][model][metric])


@pytest.mark.slow
@pytest.mark.parametrize("model", DEFAULTS)
def test_a_cpu_default_stays_in_its_band(model, tmp_path):
    record = records.read(f"default_{model}")
    value = measured_again(record["runs"][0], tmp_path)[record["metric"]]
    assert records.within(record["band"][record["metric"]], value), (model, value, record["band"][record["metric"]])


def test_a_band_holds_what_it_measured_and_refuses_what_it_did_not():
    band = records.band([0.80, 0.82, 0.84])
    assert all(records.within(band, v) for v in (0.80, 0.84, band["max"] + 1.9 * band["spread"]))
    assert not any(records.within(band, v) for v in (0.5, band["max"] + 2.1 * band["spread"], float("nan")))
