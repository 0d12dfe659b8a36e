"""Callbacks: keep a run's work safe (stop on a non-finite loss, checkpoint on SIGTERM or Ctrl-C), validate the
last step, and show progress cheaply."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.callbacks import RichProgressBar

from zoo import signals
from zoo.checkpoint import save_atomically
from zoo.errors import Interrupted, UserError
from zoo.ranges import Count, NonNegativeCount


class FiniteLossGuard(L.Callback):
    """Stop at the first NaN or Inf training loss, saying the step and the last good checkpoint.

    The checkpoints written so far are left as they are, so nothing that trained well is lost. On a
    CPU every step is checked at once; on an accelerator reading the check would wait for the device
    every step, so the first bad step is kept on the device and read every `check_every` steps and at
    the end of each training epoch (before validation and the checkpoints).
    """

    def __init__(self, check_every: Count = 50):
        self.check_every = check_every
        self.run_folder = None  # handed by the trainer (zoo.run_folder.RunFolder): where last.ckpt is
        self._first_bad: torch.Tensor | None = None  # (step, loss) of the first non-finite loss, on the device

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        loss = loss.detach().float().mean()
        if loss.device.type == "cpu":
            if not torch.isfinite(loss):
                self._stop(trainer, loss.item(), trainer.global_step)
            return
        self._remember(loss, trainer.global_step)
        if (batch_idx + 1) % self.check_every == 0:
            self._check(trainer)

    def _remember(self, loss: torch.Tensor, step: int) -> None:
        """Keep (step, loss) of the first non-finite loss, without reading anything back from the device."""
        if self._first_bad is None:
            self._first_bad = torch.full((2,), -1.0, device=loss.device)
        new = ~torch.isfinite(loss) & (self._first_bad[0] < 0)
        self._first_bad = torch.where(new, torch.stack([loss.new_tensor(float(step)), loss]), self._first_bad)

    def on_train_epoch_end(self, trainer, pl_module):
        self._check(trainer)

    def _check(self, trainer) -> None:
        if self._first_bad is not None:
            step, value = self._first_bad.tolist()
            if step >= 0:
                self._stop(trainer, value, int(step))

    def _stop(self, trainer, value: float, step: int) -> None:
        last = self.run_folder.last if self.run_folder else None
        kept = (
            f"the last good checkpoint is {last}" if last and last.is_file() else "no checkpoint had been written yet"
        )
        raise UserError(
            f"the training loss became {value} at step {step} (epoch {trainer.current_epoch}); "
            f"training stopped and {kept}; try a smaller model.optimizer.lr or trainer.gradient_clip_val=1.0"
        )


class ValidateAtMaxSteps(L.Callback):
    """A run that trainer.max_steps ends in the middle of an epoch validates and checkpoints its last weights.

    Lightning validates at epoch ends; without this the best checkpoint, which the test reads, could
    only be one of the last whole epoch, not of the steps asked for.
    """

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if 0 < trainer.max_steps <= trainer.global_step:
            # max_steps ends the run whatever min_epochs asks (Lightning's rule), and a stop that
            # min_epochs still holds back would skip the validation
            trainer.fit_loop.min_epochs = None
            trainer.should_stop = True  # Lightning validates before it stops


class CheckpointOnSigterm(L.Callback):
    """On SIGTERM (what SLURM sends before preemption) or Ctrl-C, save last.ckpt after the current step and stop.

    The checkpoint may fall in the middle of an epoch: the training loader (ResumableLoader) goes on
    from the batch after it, so the resumed run ends as the uninterrupted one would. The stopped run
    is not finished (no test, no metrics.json); it exits with 128 + the signal's number (130 for
    Ctrl-C, 143 for SIGTERM) and says how to resume. A second signal interrupts at once (zoo.signals).
    """

    def __init__(self):
        self._stop_deferring = None
        self.run_folder = None  # handed by the trainer (zoo.run_folder.RunFolder): where last.ckpt goes

    def on_train_start(self, trainer, pl_module):
        if trainer.is_global_zero or trainer.world_size == 1:
            self._stop_deferring = signals.start_deferring()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        requested = signals.state.requested
        if not requested or self._stop_deferring is None:
            return
        folder = self.run_folder
        save_atomically(trainer, str(folder.last))  # replaces a last.ckpt that links to best.ckpt, never through it
        self._restore()
        raise Interrupted(
            f"{signals.name(requested)}: saved {folder.last}; resume with resume=true hydra.run.dir={folder}",
            status=128 + requested.value,
        )

    def _restore(self) -> None:
        if self._stop_deferring is not None:
            self._stop_deferring()
            self._stop_deferring = None

    def on_train_end(self, trainer, pl_module):
        requested = signals.state.requested if self._stop_deferring is not None else None
        self._restore()
        if requested:  # after the last step (in the last validation, say): the epoch's checkpoints are written
            best = getattr(trainer.checkpoint_callback, "best_model_path", "") or self.run_folder.last
            raise Interrupted(
                f"{signals.name(requested)}: training had finished and its checkpoints are whole, but it was not "
                f"tested: python evaluate.py ckpt_path={best} measures it",
                status=128 + requested.value,
            )

    def on_exception(self, trainer, pl_module, exception):
        self._restore()


def notebook_without_widgets() -> bool:
    """In a Jupyter kernel without ipywidgets rich's live bars stay empty and it warns; a plain bar then shows."""
    import importlib.util

    from rich.console import Console

    return Console().is_jupyter and importlib.util.find_spec("ipywidgets") is None


class EpochProgressBar(RichProgressBar):
    """Lightning's rich progress bar, without the work per batch that the zoo's metrics never need.

    Lightning's bar re-reads every logged metric after each training batch. The zoo's learners log
    once per epoch (see Learner.accumulate), so here the metrics are read at the epoch's end only and
    the batch counter moves every `refresh_rate` batches (docs/benchmarks.md has the cost of both).
    In a notebook it is a widget (pip install 'lecture-zoo[notebook]'), or a plain console bar without one.
    """

    def __init__(self, refresh_rate: NonNegativeCount = 10, leave: bool = False):
        plain = notebook_without_widgets()
        super().__init__(refresh_rate, leave, console_kwargs={"force_jupyter": False} if plain else None)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        done = batch_idx + 1
        if self.train_progress_bar_id is None or done == 1:  # first batch (or a mid-epoch resume): set it all up
            return super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if done % self.refresh_rate == 0 or done == self.total_train_batches:
            self._update(self.train_progress_bar_id, done)

    def on_train_end(self, trainer, pl_module):
        # Callbacks see an epoch's end before the learner logs that epoch's training metrics, so
        # without this the bar would finish showing the training loss of the epoch before the last.
        self._update_metrics(trainer, pl_module)
        super().on_train_end(trainer, pl_module)


class OptunaPruning(L.Callback):
    """Reports `monitor` after each validation to the running Optuna trial (zoo.search); stops the run when
    Optuna prunes it.

    The run ends as a short run (its folder complete); the sweeper records the trial as pruned.
    Outside a search, or under a launcher that runs jobs in other processes, it does nothing.
    """

    def __init__(self, monitor: str):
        self.monitor = monitor

    def on_validation_end(self, trainer, pl_module) -> None:
        from zoo.search import running

        value = trainer.callback_metrics.get(self.monitor)
        if running.trial is None or trainer.state.fn != "fit" or trainer.sanity_checking or value is None:
            return  # the best checkpoint's re-validation after fitting is not an epoch
        running.trial.report(float(value), step=trainer.current_epoch)
        if running.trial.should_prune():
            running.pruned = True
            trainer.should_stop = True
