"""Loggers whose files survive a resumed run: every epoch once, however the run was stopped.

Lightning's CSV logger deletes an existing metrics.csv when it starts, and TensorBoard keeps the events
a killed run wrote after its last checkpoint. Here a resumed run keeps the rows of the epochs its
checkpoint holds and drops those it will log again. (Another run is kept out of the folder by
zoo.hydra_callbacks, so the files found there are this run's.) TensorBoard also shows the pictures the
run folder gets (log_figures) and the run's config beside its final metrics (log_run_summary).
"""

from __future__ import annotations

import csv
import os

from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


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

        with open(path, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=fields)
            writer.writeheader()
            writer.writerows(row for row in rows if before(row))
        self.experiment.metrics_keys = list(fields)


class ResumableTensorBoardLogger(TensorBoardLogger):
    """TensorBoardLogger that, on a resume, hides the events logged after the checkpoint (purge_step)."""

    def continue_from(self, epoch: int, step: int) -> None:
        self._kwargs["purge_step"] = step  # an epoch logs at its last step, one before the next epoch starts


def log_figures(loggers: list, figures: dict, step: int) -> None:
    """PNGs a run saved ({tag: path}), shown by each TensorBoard logger at the step they belong to."""
    from matplotlib.image import imread

    boards = [logger for logger in loggers if isinstance(logger, TensorBoardLogger)]
    for tag, path in figures.items() if boards else []:
        image = imread(path)[..., :3]  # RGBA -> RGB, floats in [0, 1]
        for board in boards:
            board.experiment.add_image(f"figures/{tag}", image, step, dataformats="HWC")
    for board in boards:
        board.experiment.flush()  # written after Lightning's own last flush


def log_run_summary(loggers: list, config: dict, metrics: dict) -> None:
    """The run's composed config with its final metrics, for TensorBoard's HParams tab."""
    finals = {f"hp/{k}": v for k, v in metrics.items() if k.startswith(("test/", "val/")) and isinstance(v, float)}
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger) and finals:
            logger.log_hyperparams(config, finals)
            logger.experiment.flush()
