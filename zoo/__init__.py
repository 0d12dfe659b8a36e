"""lecture-zoo: the models of the MA333 deep-learning lecture, trainable from one command line."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the project folder: configs/, outputs/, data/
