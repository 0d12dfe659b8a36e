"""The options of a supervised model config, shared by the two learners it may build: the classifier, and the
regressor a classifier's config hands a numeric target to (Classifier.learner_for)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from zoo.learners.base import Learner
from zoo.ranges import Fraction


@dataclass(frozen=True)
class SupervisedOptions(Learner.Options):
    """`label_smoothing`: the share of each training target spread evenly over the classes (Szegedy et al. 2016).
    `test_time_augment`: evaluation scores each image as the mean of the net's scores over its views."""

    label_smoothing: Fraction = 0.0
    test_time_augment: Literal["none", "flip", "flip_shift"] = "none"
