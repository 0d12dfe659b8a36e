"""What every learning module shares, and the contract between a learner, its data and the trainer.

A family of models is a network (zoo/nets, plain torch), a learner (a subclass of Learner) and a
model config that names both (`_target_:` the network, `learner:` the learner's class). The shared
trainer (zoo.run) knows no family: it asks the learner class

- `data_kinds`: which kinds of data it learns from (datamodules.description.KINDS);
- `net_sizes(data)`: what the data fixes about the network (input shape, classes, vocabulary);
- `pixel_scaling`: the pixel scale it needs, which the image presets then serve;
- `ddp_unused_parameters`: whether DDP must expect parameters without gradients in a step;

and calls these hooks of the learner object: `save_figures` after training and evaluation, `evaluate_options`
for evaluate.py mode=test and `generate` for mode=generate (given the data when `generates_from_data`); for
using a trained model, `predict_inputs` (mode=predict and the demo page), `sample` (mode=sample) and
`exportable` (mode=export), each one sentence where its learner has none. A learner's own evaluate options are
the keyword-only parameters of `evaluate_options` and `generate`, with their types and ranges (zoo.ranges):
evaluate.py passes the ones given and refuses the others with a sentence, so the base class names none. What a
learner needs beyond its data at evaluation time (another checkpoint's model, another data set) is handed to
it as an `Evaluation`. Before a fresh fit the trainer calls `initialise_from(datamodule)`, through which a
network with `fit_to_data(x)` receives the training inputs (data-dependent initialisation); a network with
`epoch_started(epoch)` is told each training epoch's start.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import lightning as L
import torch

from datamodules.description import KINDS, DataDescription
from zoo.errors import UserError
from zoo.ranges import Positive, Range, Rule

Interval = Literal["epoch", "step"]  # when a scheduler steps
# An optimiser or scheduler option: a config entry naming its constructor (Hydra builds it, `_partial_`).
ConfigEntry = Annotated[
    object,
    Rule(
        lambda v: isinstance(v, dict) and "_target_" in v, "a config entry with a _target_, e.g. model/optimizer=adamw"
    ),
]


@dataclass(frozen=True)
class Evaluation:
    """What the trainer hands a learner's evaluate options, so that learners import neither the trainer nor
    the config: the model of another checkpoint, another data preset (as evaluate.py would build it, at
    the pixel scale given), the data presets there are, and the evaluation's seed."""

    load_model: Callable[[str], Learner]
    data_preset: Callable[[str, str], L.LightningDataModule]
    data_presets: tuple[str, ...]
    seed: int


class Learner(L.LightningModule):
    """Base of the learning modules (classify, language model, adversarial, likelihood, ...).

    `data` is the datamodule's description. `optimizer` and `scheduler` are partial constructors
    from the config (Hydra `_partial_: true`): optimizer(params) and scheduler(optimizer). `spec`
    (set by zoo.run) is the composed model and data config as plain containers with the data's
    description; it is stored in every checkpoint so evaluate.py can rebuild the run from the file
    alone, and it loads with torch.load(weights_only=True).
    """

    data_kinds: tuple[str, ...] = tuple(KINDS)
    pixel_scaling: str | None = None  # "unit": the net models pixel intensities in [0, 1]
    ddp_unused_parameters = False
    generates_from_data = False  # evaluate.py mode=generate hands generate() the data (a captioner's images)
    main_metric: str | None = None  # the validation metric drawn beside the losses (learning_curves.png)
    # what to use a model of this learner with, where a way of using one does not fit it (mode=predict, ...)
    instead = "evaluate.py mode=test measures it, and zoo.load() returns it for your own code"

    @classmethod
    def net_sizes(cls, data: DataDescription) -> dict:
        """Constructor arguments of the network that the data fixes."""
        return {}

    @classmethod
    def learner_for(cls, data: DataDescription) -> type[Learner]:
        """The learner that learns this way from this data (a supervised learner hands a regression task
        to its regressor); this class itself by default."""
        return cls

    @classmethod
    def check_data(cls, model_name: str, data: DataDescription, data_name: str) -> None:
        """One sentence when this way of learning cannot use the data given."""
        if data.kind not in cls.data_kinds:
            wanted = "; or ".join(KINDS.get(k, k) for k in cls.data_kinds)
            raise UserError(
                f"model {model_name} learns from {wanted}, but data={data_name} holds {data.kind}; "
                f"pick a data set of that kind (`python -m zoo list` names them for each model)"
            )
        if cls.pixel_scaling and data.kind == "images" and data.scaling != cls.pixel_scaling:
            raise UserError(
                f"model {model_name} models pixel intensities in [0, 1]: use data.scaling={cls.pixel_scaling} "
                f"(got {data.scaling}); the image presets serve it by default to this model"
            )

    @dataclass(frozen=True)
    class Options:
        """A learner's own options (each with its type, range and default): a learner declares them as
        `class Options(Parent.Options)`, the options checker reads them, and the base constructor sets each as
        an attribute. Here the training tricks every learner takes, each off by default (docs/tricks.md):

        - `ema`: the decay of an exponential moving average of the weights (Lightning's EMAWeightAveraging),
          validated, checkpointed and tested in place of the trained weights; 0: none.
        - `bias_lr_scale`, `bias_decay`: a learning-rate multiplier, and whether weight decay applies, for the
          one-dimensional parameters (biases and normalisation weights), as Page 2018 and Jordan 2024 train them.
        """

        ema: Annotated[float, Range(0, 1, high_open=True, note="0: no average")] = 0.0
        bias_lr_scale: Positive = 1.0
        bias_decay: bool = True

    def __init__(
        self,
        net: torch.nn.Module,
        data: DataDescription,
        optimizer: ConfigEntry,
        scheduler: ConfigEntry | None = None,
        scheduler_interval: Interval = "epoch",
        **options,
    ):
        super().__init__()
        self.net = net
        self.data = data
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        for name, value in vars(self.Options(**options)).items():
            setattr(self, name, value)
        self.spec: dict = {}
        self.samples_seen = 0
        self._sums: dict[tuple, torch.Tensor] = {}  # (split, *names) -> [weighted sums..., count]
        self.history: dict[str, list[float]] = {}  # "split/name" -> one mean per epoch
        if hasattr(net, "epoch_started"):  # layers that stop training leave DDP parameters without gradients
            self.ddp_unused_parameters = True
        self.start()

    def start(self) -> None:
        """What a learner keeps besides the base's, set up once the net, the data and the options are in place."""

    # --- epoch metrics ------------------------------------------------------------------------
    # Steps add batch-weighted sums into one small tensor per split; at epoch end the sums are added
    # across DDP ranks, divided, and logged once. A log call or a torchmetrics update per step would
    # cost more than a small model's whole step (docs/benchmarks.md).
    def accumulate(self, split: str, batch_size: int, **values: torch.Tensor) -> None:
        """Add values averaged over a batch of `batch_size` examples to this epoch's running means."""
        key = (split, *values)
        if all(isinstance(v, torch.Tensor) for v in values.values()):
            stacked = torch.stack([v.detach().float() for v in values.values()]) * batch_size
        else:  # plain numbers, e.g. a count of function evaluations
            stacked = torch.tensor([float(v) * batch_size for v in values.values()], device=self.device)
        sums = self._sums.get(key)
        if sums is None:
            self._sums[key] = torch.cat([stacked, stacked.new_tensor([batch_size])])
        else:
            sums[:-1] += stacked
            sums[-1] += batch_size

    def _log_epoch(self, split: str) -> None:
        for key in [k for k in self._sums if k[0] == split]:
            sums = self._sums.pop(key)
            if self.trainer.world_size > 1:
                sums = self.trainer.strategy.reduce(sums, reduce_op="sum")
            means = dict(zip(key[1:], (sums[:-1] / sums[-1]).tolist()))
            self.log_epoch(split, means | self.derived_metrics(split, means))

    def log_epoch(self, split: str, values: dict[str, float]) -> None:
        """Log one epoch's values of a split, the same on every DDP rank, and keep them in the history."""
        # one value per epoch: the re-validation of the best checkpoint after the fit is no epoch of it (its
        # values reach metrics.json, and the loggers as the run's final metrics)
        an_epoch = split != "val" or self.trainer.state.fn == "fit"
        for name, value in values.items():
            # values are already summed over DDP ranks, so sync_dist only averages equal numbers
            self.log(
                f"{split}/{name}",
                value,
                prog_bar=split != "test" and name in ("loss", "acc", "ppl"),
                sync_dist=self.trainer.world_size > 1,
                logger=None if an_epoch else False,  # None: to the loggers there are
            )
            if not self.trainer.sanity_checking and an_epoch:
                self.history.setdefault(f"{split}/{name}", []).append(value)

    def derived_metrics(self, split: str, means: dict) -> dict:
        """Metrics computed from an epoch's means (e.g. perplexity = exp(loss)); none by default."""
        return {}

    def on_train_epoch_start(self):
        for key in [k for k in self._sums if k[0] == "train"]:
            del self._sums[key]  # an interrupted epoch leaves no stale sums behind
        starts = getattr(self.net, "epoch_started", None)
        if starts is not None:  # a network that trains some layers for the first epochs only
            starts(self.current_epoch)

    def on_train_start(self):
        self._fit_start = time.perf_counter()

    def on_train_epoch_end(self):
        self._log_epoch("train")
        if not self.trainer.sanity_checking:  # wall-clock per epoch, for loss-against-time plots
            self.history.setdefault("train/seconds", []).append(time.perf_counter() - self._fit_start)

    def on_validation_epoch_end(self):
        self._log_epoch("val")

    def on_test_epoch_end(self):
        self._log_epoch("test")

    def parameter_groups(self) -> list[dict]:
        """The trained parameters, the one-dimensional ones (biases, normalisation weights) in a group of their own
        when `bias_lr_scale` or `bias_decay` treats them apart."""
        trained = [p for p in self.parameters() if p.requires_grad]
        if self.bias_lr_scale == 1 and self.bias_decay:
            return [{"params": trained}]
        flat = {"params": [p for p in trained if p.ndim <= 1]} | ({} if self.bias_decay else {"weight_decay": 0.0})
        return [{"params": [p for p in trained if p.ndim > 1]}, flat]

    def configure_optimizers(self):
        groups = self.parameter_groups()
        optimizer = self.optimizer_factory(groups)
        if len(groups) > 1:
            optimizer.param_groups[1]["lr"] *= self.bias_lr_scale
        if self.scheduler_factory is None:
            return optimizer
        takes = inspect.signature(getattr(self.scheduler_factory, "func", self.scheduler_factory)).parameters
        if "total_steps" in takes and "total_steps" not in getattr(self.scheduler_factory, "keywords", {}):
            # a schedule over the whole run (Triangular) is told how long the run is, in its interval's units
            steps = (
                self.trainer.estimated_stepping_batches
                if self.scheduler_interval == "step"
                else self.trainer.max_epochs
            )
            scheduler = self.scheduler_factory(optimizer, total_steps=int(steps))
        else:
            scheduler = self.scheduler_factory(optimizer)
        schedule = {"scheduler": scheduler, "interval": self.scheduler_interval}
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            schedule["monitor"] = "val/loss"  # what a plateau is a plateau of
        return {"optimizer": optimizer, "lr_scheduler": schedule}

    def configure_callbacks(self) -> list:
        if not self.ema:
            return []
        from lightning.pytorch.callbacks import EMAWeightAveraging

        return [EMAWeightAveraging(decay=self.ema)]

    def initialise_from(self, datamodule) -> None:
        """Data-dependent initialisation, before a fresh fit: a network with `fit_to_data(x)` (a whitening stem)
        receives training inputs (its `fit_images` first) as it will see them, from the datamodule's `inputs`."""
        fit = getattr(self.net, "fit_to_data", None)
        if fit is None:
            return
        if not hasattr(datamodule, "inputs"):
            raise UserError(
                f"{type(self.net).__name__} fits its first layer to training inputs, which this data does not serve"
            )
        with torch.no_grad():
            fit(datamodule.inputs("train", limit=getattr(self.net, "fit_images", None)))

    # --- steps: a learner defines _step(batch, split) -> loss; the three splits share it ------------
    def _step(self, batch, split: str) -> torch.Tensor:
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

    def batch_samples(self, batch) -> int:
        """How many examples a batch holds (for samples_per_second)."""
        return len(batch[0])

    def on_train_batch_start(self, batch, batch_idx):
        if self.samples_seen == 0:
            self.first_step_at = time.perf_counter()  # the framework's start-up ends here
        self.samples_seen += self.batch_samples(batch)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["zoo"] = self.spec
        # Resuming continues the same random stream (shuffling, dropout, augmentation), so a resumed
        # run ends where an uninterrupted one would.
        checkpoint["zoo_state"] = {"torch_rng": torch.get_rng_state(), "history": self.history}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint.get("zoo_state", {})
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"])
        self.restore(state)

    def restore(self, state: dict) -> None:
        """What the learner keeps in a checkpoint beyond the weights (its `zoo_state`), read back on resuming and
        for evaluation: the curves so far, by default."""
        self.history = state.get("history", {})

    # --- hooks of the shared trainer ----------------------------------------------------------------
    def save_figures(self, out_dir: Path, datamodule) -> list[Path]:
        """Write the pictures that fit this kind of model into the run folder; return their paths."""
        return []

    def evaluate_options(self, datamodule, out_dir: Path, evaluation: Evaluation) -> dict:
        """Metrics of this learner's own evaluate options (its keyword-only parameters; none here)."""
        return {}

    # --- using a trained model ----------------------------------------------------------------------
    def predict_inputs(self, x: list[torch.Tensor], top_k: int = 5) -> list[dict]:
        """mode=predict: one row of answers per served input (datamodules.inputs): its predicted class or value."""
        raise UserError(
            f"mode=predict needs a model that answers an input (a classifier, a regressor or a language model); "
            f"this checkpoint holds a {type(self).__name__}: {self.instead}"
        )

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """mode=sample: n samples in the data's scale (pixels in [0, 1], or points), from noise fixed by `seed`."""
        raise UserError(
            f"mode=sample needs a generative model (GAN, DCGAN, RealNVP or the autoencoder); this checkpoint holds a "
            f"{type(self).__name__}: {self.instead}"
        )

    def exportable(self) -> tuple[torch.nn.Module, torch.Tensor]:
        """mode=export: the module to export (served inputs in, the network's outputs out) and an example input."""
        raise UserError(f"mode=export takes classifiers, regressors and language models; {self.instead}")

    def generate(self, out_dir: Path, datamodule, evaluation: Evaluation) -> str:
        """evaluate.py mode=generate: text from the model (given the data when `generates_from_data`); its own
        options are its keyword-only parameters; returns what was printed."""
        raise UserError(
            f"mode=generate needs a model that generates text (a language model or a captioner); this checkpoint "
            f"holds a {type(self).__name__}"
        )
