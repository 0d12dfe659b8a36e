"""Learning-rate schedules over the whole run that torch does not offer in the form the fast recipes use.

A schedule whose constructor takes `total_steps` is told the run's length by the learner (Learner.configure_optimizers),
in its interval's units (`model.scheduler_interval`: optimiser steps or epochs).
"""

from __future__ import annotations

from typing import Annotated

import torch

from zoo.ranges import Count, Range

Share = Annotated[float, Range(0, 1, low_open=True, high_open=True)]
Factor = Annotated[float, Range(0, low_open=True)]


class Triangular(torch.optim.lr_scheduler.LambdaLR):
    """Each group's learning rate times `start` at the first step, rising linearly to x1 at `peak` of the run, then
    falling linearly to x`end` at its last step: the triangle of Page 2018 and Jordan 2024 (airbench). Unlike
    OneCycleLR it scales each parameter group's own rate, so `model.bias_lr_scale` keeps its multiplier."""

    def __init__(self, optimizer, total_steps: Count, start: Factor = 0.2, peak: Share = 0.23, end: Factor = 0.07):
        top = peak * max(total_steps - 1, 1)
        last = max(total_steps - 1, 1)

        def factor(step: int) -> float:
            if step <= top:
                return start + (1 - start) * step / top
            return 1 + (end - 1) * min(step - top, last - top) / (last - top)

        super().__init__(optimizer, factor)
