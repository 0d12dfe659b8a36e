"""Regression: the output takes a continuous value (slide "Regression vs Classification").

The perceptron's y_hat = g(w0 + x^T w) with g the identity, or a deep MLP with one output unit, trained
to the mean squared error (1/n) sum_i (y_hat_i - y_i)^2 on the target served standardised. The test
reports test/rmse and test/mae in the target's own units (the data's description holds its scale) and
test/r2 = 1 - SSE / SST, the share of the target's variance the model explains (1: all, 0: no better
than the mean).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from datamodules.description import DataDescription
from zoo.errors import UserError
from zoo.learners.base import Learner
from zoo.learners.supervised import SupervisedOptions


class InUnits(torch.nn.Module):
    """The network's standardised output in the target's own units: y = out * std + mean."""

    def __init__(self, net: torch.nn.Module, scale: list[float] | None):
        super().__init__()
        self.net = net
        self.mean, self.std = scale or [0.0, 1.0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1) * self.std + self.mean


class Regressor(Learner):
    """Mean squared error of a net with one output; the supervised learner of a regression table.

    It takes the classifiers' options, as a classifier's model config hands a numeric target to it, and refuses
    them changed: they shape class scores."""

    data_kinds = ("rows",)
    main_metric = "r2"

    Options = SupervisedOptions

    def start(self) -> None:
        unchanged = SupervisedOptions()
        for name in sorted(set(vars(unchanged)) - set(vars(Learner.Options()))):
            if getattr(self, name) != getattr(unchanged, name):
                raise UserError(
                    f"model.{name}={getattr(self, name)} shapes class scores, and this table's target is a number "
                    f"(a regression); leave it at {getattr(unchanged, name)}"
                )

    @classmethod
    def net_sizes(cls, data: DataDescription) -> dict:
        return {"input_shape": data.input_shape, "num_classes": 1}  # one output unit: the value

    @classmethod
    def check_data(cls, model_name: str, data: DataDescription, data_name: str) -> None:
        super().check_data(model_name, data, data_name)
        if data.task != "regression":
            raise UserError(
                f"model {model_name} predicts a number, but data={data_name} holds class labels; train a classifier "
                f"(model.learner=zoo.learners.classify.Classifier) or set data.task=regression"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)

    def _step(self, batch, split: str) -> torch.Tensor:
        x, y = batch
        error = self(x) - y
        loss = (error**2).mean()
        # means over the split, combined at the epoch's end into RMSE, MAE and R^2 (derived_metrics)
        self.accumulate(split, len(y), loss=loss, abs_error=error.abs().mean(), y=y.mean(), y2=(y**2).mean())
        return loss

    def derived_metrics(self, split: str, means: dict) -> dict:
        std = (self.data.target_scale or [0.0, 1.0])[1]
        variance = max(means["y2"] - means["y"] ** 2, 1e-12)
        return {
            "rmse": math.sqrt(means["loss"]) * std,
            "mae": means["abs_error"] * std,
            "r2": 1 - means["loss"] / variance,
        }

    def log_epoch(self, split: str, values: dict[str, float]) -> None:
        super().log_epoch(split, {k: v for k, v in values.items() if k not in ("abs_error", "y", "y2")})

    @torch.no_grad()
    def predict_inputs(self, x: list[torch.Tensor], top_k: int = 5) -> list[dict]:
        self.eval()
        values = InUnits(self.net, self.data.target_scale)(torch.stack(x).to(self.device)).cpu()
        return [{"predicted": float(v)} for v in values]

    def exportable(self) -> tuple[torch.nn.Module, torch.Tensor]:
        return InUnits(self.net, self.data.target_scale), torch.zeros(2, *self.data.input_shape)

    @torch.no_grad()
    def predictions(self, datamodule, split: str = "test") -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted and true values of a split, in the target's own units."""
        self.eval()
        in_units = InUnits(self.net, self.data.target_scale)
        x, y = datamodule.inputs(split, self.device), datamodule.splits[split].y
        return in_units(x).cpu(), y * in_units.std + in_units.mean

    def save_figures(self, out_dir: Path, datamodule) -> list[Path]:
        from zoo import plots

        predicted, true = self.predictions(datamodule)
        return [plots.predicted_vs_true(predicted, true, out_dir / "predicted_vs_true.png")]
