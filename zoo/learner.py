"""What every learning module shares: the optimiser from config, a self-describing checkpoint."""
from __future__ import annotations

from pathlib import Path

import lightning as L
import torch


class Learner(L.LightningModule):
    """Base of the learning modules (classifier, language model, GAN, flow).

    `optimizer` and `scheduler` are partial constructors from the config (Hydra `_partial_: true`):
    optimizer(params) and scheduler(optimizer). `recipe` (set by zoo.run) is the composed model and
    data config as plain containers; it is stored in every checkpoint so evaluate.py can rebuild the
    run from the file alone, and it loads with torch.load(weights_only=True).
    """

    def __init__(self, net: torch.nn.Module, optimizer, scheduler=None, scheduler_interval: str = "epoch"):
        super().__init__()
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.recipe: dict = {}
        self.samples_seen = 0
        self._sums: dict[str, torch.Tensor] = {}
        self._names: dict[str, list[str]] = {}

    # --- epoch metrics ------------------------------------------------------------------------
    # Steps add batch-weighted sums into one small tensor per split (a few microseconds); at epoch
    # end the sums are added across DDP ranks, divided, and logged once. Logging every step costs
    # ~1 ms a call and torchmetrics ~0.1 ms per update: more than a small model's whole step.
    def accumulate(self, split: str, batch_size: int, **values: torch.Tensor) -> None:
        """Add values averaged over a batch of `batch_size` examples to this epoch's running means."""
        stacked = torch.stack([v.detach().float() for v in values.values()]) * batch_size
        sums = self._sums.get(split)
        if sums is None:
            self._names[split] = list(values)
            self._sums[split] = torch.cat([stacked, stacked.new_tensor([batch_size])])
        else:
            sums[:-1] += stacked
            sums[-1] += batch_size

    def _log_epoch(self, split: str) -> None:
        sums = self._sums.pop(split, None)
        if sums is None:
            return
        sums = self.trainer.strategy.reduce(sums, reduce_op="sum") if self.trainer.world_size > 1 else sums
        means = sums[:-1] / sums[-1]
        for name, value in zip(self._names[split], means):
            self.log(f"{split}/{name}", value, prog_bar=split != "test")

    def on_train_epoch_start(self):
        self._sums.pop("train", None)  # an interrupted epoch leaves no stale sums behind

    def on_train_epoch_end(self):
        self._log_epoch("train")

    def on_validation_epoch_end(self):
        self._log_epoch("val")

    def on_test_epoch_end(self):
        self._log_epoch("test")

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": self.scheduler_interval}}

    def on_train_batch_start(self, batch, batch_idx):
        self.samples_seen += len(batch[0])

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["zoo"] = self.recipe

    def save_figures(self, out_dir: Path, datamodule) -> list[Path]:
        """Write the pictures that fit this kind of model into the run folder; return their paths."""
        return []
