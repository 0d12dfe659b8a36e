"""Optuna searches (hparams_search=...), the pruning callback, and python -m zoo.compare on a sweep."""

import json

import pytest
from omegaconf import OmegaConf

from tests.conftest import ROOT, run_cli
from zoo.errors import UserError
from zoo.search import check_params


def test_a_three_trial_search_names_its_best_run_and_compare_tables_it(tmp_path, capsys):
    from zoo.compare import main

    sweep = tmp_path / "sweep"
    result = run_cli(
        "train.py", "-m", "hparams_search=mlp_digits", "hydra.sweeper.n_trials=3", "trainer.max_epochs=2",
        "trainer=cpu", f"hydra.sweep.dir={sweep}", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    best = OmegaConf.load(sweep / "best.yaml")
    scores = {n: json.loads((sweep / str(n) / "metrics.json").read_text())["val/acc"] for n in range(3)}
    assert best.metric == "val/acc" and best.best_value == max(scores.values())
    assert scores[best.best_trial] == best.best_value and best.best_run == str(sweep / str(best.best_trial))
    assert "hparams_search=mlp_digits" in best.best_overrides and len(best.best_overrides) == 7  # 3 fixed, 4 searched
    assert "hparams search: best of 3 trials" in result.stdout

    main([str(sweep), "--sort", "val/acc", "--descending"])  # python -m zoo.compare ...
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "---" not in line]
    header, rows = rows[0].strip("| ").split(" | "), [r.strip("| ").split(" | ") for r in rows[1:]]
    assert {"model.optimizer.lr", "model.width", "val/acc", "test/acc"} <= set(header)
    assert "hparams_search" not in header  # the same in every run
    column = header.index("val/acc")
    assert [float(r[column]) for r in rows] == sorted((float(r[column]) for r in rows), reverse=True)
    assert rows[0][0] == str(best.best_trial)
    for name in ("compare.md", "compare.csv", "compare_curves.png"):
        assert (sweep / name).is_file()


def test_compare_says_what_it_needs(tmp_path, capsys):
    from zoo.cli import compare_command

    with pytest.raises(SystemExit) as stopped:
        compare_command([str(tmp_path)])
    assert stopped.value.code == 2 and "holds no run" in capsys.readouterr().err


@pytest.mark.parametrize(
    "params, sentence",
    [
        ({}, "hydra.sweeper.params is empty"),
        ({"model.width": 64}, "model.width must be {low, high} or {choices"),
        ({"model.width": {"choices": []}}, "choices must be a non-empty list"),
        ({"model.optimizer.lr": {"low": 0.1, "high": 0.01}}, "needs numbers low < high"),
        ({"model.optimizer.lr": {"low": 0.0, "high": 0.1, "log": True}}, "a log scale needs low > 0"),
    ],
)
def test_a_search_space_is_checked_before_any_trial(params, sentence):
    with pytest.raises(UserError, match=sentence.replace("{", "\\{")):
        check_params(params)


def test_wrong_search_settings_are_sentences(tmp_path):
    from hydra_plugins.zoo_optuna import OptunaSweeper

    space = {"model.width": {"choices": [64, 128]}}
    for settings, arguments, sentence in (
        ({"direction": "up"}, [], "hydra.sweeper.direction must be minimize or maximize"),
        ({"n_trials": 0}, [], "hydra.sweeper.n_trials must be an integer >= 1"),
        ({"pruner": "hyperband"}, [], "hydra.sweeper.pruner must be median or none"),
        ({}, ["model.width=64"], "a searched key cannot also be fixed on the command line"),
    ):
        sweeper = OptunaSweeper(**({"direction": "maximize", "n_trials": 3, "seed": 0, "params": space} | settings))
        with pytest.raises(UserError, match=sentence):
            sweeper.check(arguments)
    # on the command line: the sentence, exit 2, no traceback
    result = run_cli("train.py", "-m", "hparams_search=mlp_digits", "model.width=64", f"hydra.sweep.dir={tmp_path}/s")
    assert result.returncode == 2 and "error: model.width=64: a searched key" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_pruned_trial_stops_its_run_after_the_epoch_it_is_pruned_in(compose_train, tmp_path):
    import optuna

    from zoo.run import train
    from zoo.search import running

    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    running.trial, running.pruned = study.ask(), False  # an accuracy never reaches 2: pruned at its first report
    try:
        metrics = train(
            compose_train(
                "trainer.max_epochs=5",
                "+callbacks.optuna_pruning._target_=zoo.callbacks.OptunaPruning",
                "+callbacks.optuna_pruning.monitor=val/acc",
                output_dir=tmp_path,
            )
        )
    finally:
        running.trial = None
    assert running.pruned and metrics["epochs"] == 1 and (tmp_path / "metrics.json").is_file()
    assert list(study.trials[0].intermediate_values) == [0]  # epoch 0's val/acc, reported once


@pytest.mark.parametrize("preset", sorted(p.stem for p in (ROOT / "configs" / "hparams_search").glob("*.yaml")))
def test_every_search_preset_searches_keys_its_runs_have(preset, tmp_path):
    from zoo.build import check_config
    from zoo.composing import compose
    from zoo.run import TrainOptions

    text = tmp_path / "words.txt"
    text.write_text("the cat sat on the mat\n" * 50)
    cfg = compose(
        "train",
        [f"hparams_search={preset}", f"data.path={text}"] if "words" in preset else [f"hparams_search={preset}"],
        tmp_path,
    )
    check_config(cfg, TrainOptions)
    absent = object()
    params = check_params(OmegaConf.to_container(cfg.hydra.sweeper.params))
    assert [key for key in params if OmegaConf.select(cfg, key, default=absent) is absent] == []
    assert cfg.hydra.sweeper._target_ == "hydra_plugins.zoo_optuna.OptunaSweeper"
    assert (
        cfg.optimized_metric in ("val/acc", "val/loss") and cfg.callbacks.optuna_pruning.monitor == cfg.optimized_metric
    )
