"""The Optuna sweeper of `python train.py -m hparams_search=<preset>` (zoo/search.py says how it searches).

Hydra loads sweepers only from the hydra_plugins package; configs/hydra/sweeper/optuna.yaml names this one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

from zoo.errors import Refusal, UserError
from zoo.files import write_whole
from zoo.search import check_params, is_number, running, suggest
from zoo.sweep import jobs


def job_completed(sweep_dir: Path, number: int) -> bool:
    """Whether the job's own record says it completed (a failed one has said its sentence already)."""
    return any(job.get("job") == number and job.get("status") == "completed" for job in jobs(sweep_dir))


class OptunaSweeper(Sweeper):
    """Optuna's TPE sampler over `params`, one Hydra job per trial (see zoo/search.py)."""

    def __init__(self, direction: str, n_trials: int, seed: int, params, pruner: str = "median",
                 warmup_epochs: int = 3) -> None:  # fmt: skip
        self.direction, self.n_trials, self.seed, self.pruner, self.warmup_epochs = (
            direction, n_trials, seed, pruner, warmup_epochs)  # fmt: skip
        self.params = OmegaConf.to_container(params) if OmegaConf.is_config(params) else dict(params or {})

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def check(self, arguments: list[str]) -> None:
        """Every setting of the search, before the first trial; a wrong one is a sentence naming its key."""
        if self.direction not in ("minimize", "maximize"):
            raise UserError(f"hydra.sweeper.direction must be minimize or maximize, got {self.direction!r}")
        if not is_number(self.n_trials) or isinstance(self.n_trials, float) or self.n_trials < 1:
            raise UserError(f"hydra.sweeper.n_trials must be an integer >= 1, got {self.n_trials!r}")
        if self.pruner not in ("median", "none"):
            raise UserError(f"hydra.sweeper.pruner must be median or none, got {self.pruner!r}")
        check_params(self.params)
        searched = [a for a in arguments if a.split("=", 1)[0].lstrip("+~") in self.params]
        if searched:
            raise UserError(
                f"{' '.join(searched)}: a searched key cannot also be fixed on the command line; its range is "
                f"hydra.sweeper.params.{searched[0].split('=', 1)[0].lstrip('+~')}"
            )

    def sweep(self, arguments: list[str]) -> list:
        import optuna

        try:
            self.check(arguments)
        except UserError as err:
            raise Refusal(str(err)) from err
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        write_whole(sweep_dir / "multirun.yaml", OmegaConf.to_yaml(self.config))
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        pruner = (
            optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=self.warmup_epochs)
            if self.pruner == "median"
            else optuna.pruners.NopPruner()
        )
        study = optuna.create_study(
            direction=self.direction, sampler=optuna.samplers.TPESampler(seed=self.seed), pruner=pruner
        )
        metric = self.config.get("optimized_metric")
        returns = []
        for number in range(self.n_trials):
            trial = study.ask()
            values = {key: suggest(trial, key, spec) for key, spec in self.params.items()}
            overrides = [*arguments, *(f"{key}={value}" for key, value in values.items())]
            running.trial, running.pruned = trial, False
            try:
                [result] = self.launcher.launch([overrides], initial_job_idx=number)
            finally:
                running.trial = None
            returns.append(result)
            value = result.return_value if result.status == JobStatus.COMPLETED else None
            if running.pruned:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            elif is_number(value):
                study.tell(trial, float(value))
            else:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                if result.status == JobStatus.COMPLETED and job_completed(sweep_dir, number):
                    print(f"trial {number}: its run has no {metric} (optimized_metric): failed", file=sys.stderr)
        self._write_best(study, metric, sweep_dir, arguments)
        return returns

    def _write_best(self, study, metric: str, sweep_dir: Path, arguments: list[str]) -> None:
        import optuna

        states = [t.state for t in study.trials]
        counts = {s.name.lower(): states.count(s) for s in optuna.trial.TrialState if states.count(s)}
        completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not completed:
            print(f"hparams search: no trial completed ({counts}); nothing to name as best")
            return
        best = study.best_trial
        result = {
            "metric": metric,
            "direction": self.direction,
            "best_value": best.value,
            "best_trial": best.number,
            "best_overrides": [*arguments, *(f"{k}={v}" for k, v in best.params.items())],
            "best_run": str(sweep_dir / str(best.number)),
            "trials": counts,
        }
        write_whole(sweep_dir / "best.yaml", OmegaConf.to_yaml(OmegaConf.create(result)))
        print(
            f"hparams search: best of {len(study.trials)} trials is trial {best.number}, {metric} {best.value:.4g}, "
            f"with {' '.join(f'{k}={v}' for k, v in best.params.items())} (written to {sweep_dir / 'best.yaml'})"
        )
