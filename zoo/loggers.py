"""Loggers whose files survive a resumed run: every epoch once, however the run was stopped.

Lightning's CSV logger deletes an existing metrics.csv when it starts, and TensorBoard keeps the events
a killed run wrote after its last checkpoint. Here a resumed run keeps the rows of the epochs its
checkpoint holds and drops those it will log again. (Another run is kept out of the folder by
zoo.run_folder, so the files found there are this run's.) TensorBoard also shows the pictures the
run folder gets (log_figures) and the run's config beside its final metrics (log_run_summary).
"""

from __future__ import annotations

import csv
import fcntl
import importlib.util
import os
from pathlib import Path
from typing import Annotated

from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from zoo.errors import UserError
from zoo.files import whole
from zoo.ranges import Rule


class _KeepingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        pass  # the rows of the epochs before a resume stay


class ResumableCSVLogger(CSVLogger):
    """CSVLogger that appends to the metrics.csv it finds; `continue_from` drops rows a resume repeats."""

    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepingWriter(log_dir=self.log_dir)
        return self._experiment

    def start_fresh(self) -> None:
        """A run that does not resume: a metrics.csv already there is another run's, whose rows would mix with this
        one's (and whose columns may differ): one sentence, before any work."""
        path = os.path.join(self.log_dir, ExperimentWriter.NAME_METRICS_FILE)
        if os.path.exists(path):
            raise UserError(
                f"{path} already holds another run's metrics; a run's CSV log needs a folder of its own: pass another "
                f"logger.csv.save_dir (by default it is the run's own folder)"
            )

    def continue_from(self, epoch: int, step: int) -> None:
        """Keep rows of epochs before `epoch` (rows without one: steps before `step`)."""
        path = os.path.join(self.log_dir, ExperimentWriter.NAME_METRICS_FILE)
        if not os.path.isfile(path):
            return
        with open(path, newline="") as file:
            reader = csv.DictReader(file)
            fields, rows = reader.fieldnames or [], list(reader)

        def before(row: dict) -> bool:
            if row.get("epoch"):
                return float(row["epoch"]) < epoch
            return row.get("step") not in (None, "") and float(row["step"]) < step

        with whole(path) as partial, open(partial, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=fields)
            writer.writeheader()
            writer.writerows(row for row in rows if before(row))
        self.experiment.metrics_keys = list(fields)


class ResumableTensorBoardLogger(TensorBoardLogger):
    """TensorBoardLogger that, on a resume, hides the events logged after the checkpoint (purge_step)."""

    def continue_from(self, epoch: int, step: int) -> None:
        self._kwargs["purge_step"] = step  # an epoch logs at its last step, one before the next epoch starts


# --- MLflow and Weights & Biases: optional packages -----------------------------------------------------------
def _installed(package: str, extra: str, logger: str, when_installed: bool) -> bool:
    if importlib.util.find_spec(package) is not None:
        return True
    if when_installed:  # logger=many: every logger whose package is there
        return False
    raise UserError(
        f"logger={logger} needs the {package} package: pip install 'lecture-zoo[{extra}]' (or use logger=csv)"
    )


STORE = Rule(
    lambda v: isinstance(v, str) and v.startswith(("sqlite:///", "http://", "https://", "postgresql", "mysql")),
    "a database or server URI, e.g. sqlite:///outputs/mlflow.db (MLflow has retired its file store)",
)
PATH = Rule(lambda v: isinstance(v, str) and v.strip() != "", "a path (a non-empty string)")


def mlflow_logger(tracking_uri: Annotated[str, STORE], artifact_location: Annotated[str, PATH],
                  experiment_name: Annotated[str, PATH] = "lecture-zoo", run_name: str = "",
                  tags: list[str] | tuple = (), when_installed: bool = False):  # fmt: skip
    """Lightning's MLFlowLogger into a local store that needs no server (`mlflow ui --backend-store-uri <uri>`
    shows it); None under logger=many when mlflow is not installed."""
    if not _installed("mlflow", "mlflow", "mlflow", when_installed):
        return None
    from lightning.pytorch.loggers import MLFlowLogger

    open_mlflow_store(tracking_uri)
    try:
        Path(artifact_location).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(
            f"logger.mlflow.artifact_location={artifact_location} cannot be made ({err.strerror or err}); "
            f"give a folder you can write"
        ) from err
    return MLFlowLogger(experiment_name, run_name or None, tracking_uri, tags=dict.fromkeys(tags, "true"),
                        artifact_location=str(artifact_location))  # fmt: skip


SQLITE_HEADER = b"SQLite format 3\x00"


def open_mlflow_store(uri: str) -> None:
    """A local store is checked and, when new, created (its schema migrated) under a lock, so two runs that
    start together do not race; a store that cannot be used is one sentence naming it."""
    if not uri.startswith("sqlite:///"):
        return  # a server checks its own store
    path = Path(uri.removeprefix("sqlite:///"))
    fix = "set logger.mlflow.tracking_uri=sqlite:///<a file you can write>"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with open(path, "rb") as file:
                header = file.read(len(SQLITE_HEADER))
            if header and header != SQLITE_HEADER:
                raise UserError(f"the MLflow store {path} is not an SQLite database; {fix}")
        with open(path.with_name(path.name + ".lock"), "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # held until the store's schema is whole
            from mlflow.tracking import MlflowClient

            MlflowClient(uri).search_experiments(max_results=1)
    except UserError:
        raise
    except Exception as err:  # a folder it cannot write, a damaged database, a schema from another MLflow
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise UserError(f"the MLflow store {path} cannot be used ({type(err).__name__}: {reason}); {fix}") from err


def wandb_logger(save_dir: Annotated[str, PATH], project: Annotated[str, PATH] = "lecture-zoo", name: str = "",
                 offline: bool = True,
                 tags: list[str] | tuple = (), when_installed: bool = False):  # fmt: skip
    """Lightning's WandbLogger, offline by default (its files in the run folder; `wandb sync` uploads them later);
    None under logger=many when wandb is not installed."""
    if not _installed("wandb", "wandb", "wandb", when_installed):
        return None
    from lightning.pytorch.loggers import WandbLogger

    return WandbLogger(name=name or None, save_dir=save_dir, offline=offline, project=project, tags=list(tags))


def _kind(logger) -> str:
    return type(logger).__name__.removeprefix("Resumable").removesuffix("Logger").lower()


# --- what every logger is sent ----------------------------------------------------------------------------------
def log_run_start(loggers: list, parameters: dict, config_text: str) -> None:
    """The run's parameters (what the user set or a recipe changed) and its composed config, to every logger."""
    for logger in loggers:
        kind = _kind(logger)
        if kind == "tensorboard":
            continue  # its HParams tab pairs them with the final metrics (log_run_summary)
        logger.log_hyperparams(parameters)
        if kind == "mlflow":
            logger.experiment.log_text(logger.run_id, config_text, "config.yaml")
        elif kind == "wandb":
            logger.experiment.config.update({"composed_config": config_text}, allow_val_change=True)


def log_figures(loggers: list, figures: dict, step: int) -> None:
    """PNGs a run saved ({tag: path}): TensorBoard images at the step they belong to, MLflow artifacts, W&B media."""
    from matplotlib.image import imread

    for logger in loggers:
        kind = _kind(logger)
        for tag, path in figures.items():
            if kind == "tensorboard":
                image = imread(path)[..., :3]  # RGBA -> RGB, floats in [0, 1]
                logger.experiment.add_image(f"figures/{tag}", image, step, dataformats="HWC")
            elif kind == "mlflow":
                logger.experiment.log_artifact(logger.run_id, str(path), "figures")
            elif kind == "wandb":
                logger.log_image(key=f"figures/{tag}", images=[str(path)], step=step)
        if kind == "tensorboard":
            logger.experiment.flush()  # written after Lightning's own last flush


def log_run_summary(loggers: list, parameters: dict, metrics: dict) -> None:
    """The run's final metrics beside its parameters (TensorBoard's HParams tab, MLflow, W&B's summary)."""
    numbers = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    finals = {f"hp/{k}": v for k, v in numbers.items() if k.startswith(("test/", "val/")) and isinstance(v, float)}
    for logger in loggers:
        kind = _kind(logger)
        if kind == "tensorboard" and finals:
            logger.log_hyperparams(parameters, finals)
            logger.experiment.flush()
        elif kind == "mlflow":
            for key, value in numbers.items():
                logger.experiment.log_metric(logger.run_id, f"final/{key}", value)
        elif kind == "wandb":
            logger.experiment.summary.update({f"final/{k}": v for k, v in numbers.items()})
            logger.experiment.finish()
