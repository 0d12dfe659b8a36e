"""Hyperparameter search on Optuna: python train.py -m hparams_search=<preset> [hydra.sweeper.n_trials=N]

A Hydra sweeper that asks Optuna (TPE sampler, seeded) for each trial's values of the preset's
`hydra.sweeper.params`, launches the trial as one job of the multirun (the same `train(cfg)` as any
run, in its own folder), and tells Optuna the value the job returns: its `optimized_metric`, measured
on the validation split with the best checkpoint. Trials that fall behind the median of earlier
trials at the same epoch stop early (zoo.callbacks.OptunaPruning reports each epoch to `running`).
The sweep folder gets best.yaml: the best trial's overrides and value.

A searched key is {low, high} (integers when both are, `log: true` for a log scale, `step`) or
{choices: [...]}. The sweeper itself is hydra_plugins/zoo_optuna (Hydra loads plugins only from that
package); this module holds what it shares with the pruning callback.
"""

from __future__ import annotations

import math

from zoo.errors import UserError


class Running:
    """The trial of the job running in this process (Hydra's basic launcher runs jobs in the sweep's process)."""

    trial = None
    pruned = False


running = Running()


def check_params(params: dict) -> dict:
    """The search space, each key's spec checked before any trial starts."""
    if not params:
        raise UserError(
            "hydra.sweeper.params is empty: name the keys to search, e.g. model.optimizer.lr: {low: 1e-4, high: 0.1}"
        )
    for key, spec in params.items():
        spec = dict(spec) if isinstance(spec, dict) else spec
        if not isinstance(spec, dict) or not ({"choices"} <= spec.keys() or {"low", "high"} <= spec.keys()):
            raise UserError(f"hydra.sweeper.params.{key} must be {{low, high}} or {{choices: [...]}}, got {spec!r}")
        if "choices" in spec and (not isinstance(spec["choices"], list) or not spec["choices"]):
            raise UserError(f"hydra.sweeper.params.{key}.choices must be a non-empty list, got {spec['choices']!r}")
        if "low" in spec and not (is_number(spec["low"]) and is_number(spec["high"]) and spec["low"] < spec["high"]):
            raise UserError(
                f"hydra.sweeper.params.{key} needs numbers low < high, got {spec['low']!r} and {spec['high']!r}"
            )
        if spec.get("log") and "low" in spec and spec["low"] <= 0:
            raise UserError(f"hydra.sweeper.params.{key}: a log scale needs low > 0, got {spec['low']!r}")
    return params


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def suggest(trial, key: str, spec: dict):
    if "choices" in spec:
        return trial.suggest_categorical(key, list(spec["choices"]))
    if isinstance(spec["low"], int) and isinstance(spec["high"], int) and not isinstance(spec.get("step", 1), float):
        return trial.suggest_int(key, spec["low"], spec["high"], step=spec.get("step", 1), log=bool(spec.get("log")))
    low, high = float(spec["low"]), float(spec["high"])
    return trial.suggest_float(key, low, high, step=spec.get("step"), log=bool(spec.get("log")))
