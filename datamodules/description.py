"""The one thing a model learns about its data: what the datamodule holds, in one description.

Every datamodule exposes `description` (a DataDescription). The shared trainer hands it to the
learner, which sizes its network from it (`Learner.net_sizes`) and reads whatever else it needs
(pixel levels, the GAN's mode centres, the vocabulary). The checkpoint stores it as a plain dict,
so a model can be rebuilt from the file alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

KINDS = {  # what each kind holds; which presets hold it is read from the configs (`python -m zoo list`)
    "points": "vectors in the plane",
    "images": "images, channels x height x width",
    "tokens": "token streams",
    "scenes": "images of a few digits with their pixel masks, boxes and captions",
    "rows": "rows of a table: a feature vector and a class or a number to predict",
}


@dataclass(frozen=True)
class DataDescription:
    """What a data set holds.

    kind: one of KINDS. input_shape: one example's shape (points and images). num_classes: labels.
    levels: pixel intensity levels (17 for digits, 256 for 8-bit images). scaling: how pixels are
    served (standard: zero mean, unit variance; unit: [0, 1]). modes, mode_std: centres and spread of
    a Gaussian mixture (ring, grid). vocab: the tokens (of a stream, or of a scene's captions), in id
    order. level: char or word tokens.
    train_windows: how training windows of a token stream come, "stream" (each continues the one
    before, so a model carries its state) or "random" (at random places, each from a fresh state).
    labels_present: the labels the data holds when it keeps only some of its num_classes (digits'
    data.classes); None: all of them. Not compared between a checkpoint and its evaluation data.
    label_names: the classes' names, in label order (an image folder's class folders, a table's labels).
    task: classification (by default) or regression (a table with a numeric target). target_scale: the
    regression target's [mean, std] in the training split (it is served standardised). feature_encoding:
    how a table's columns became the input vector, per input: [column, mean, std] or [column, value].
    """

    kind: str
    input_shape: list[int] | None = None
    num_classes: int | None = None
    levels: int | None = None
    scaling: str | None = None
    modes: list[list[float]] | None = None
    mode_std: float | None = None
    vocab: list[str] | None = field(default=None, repr=False)
    level: str | None = None
    train_windows: str | None = None
    labels_present: list[int] | None = None
    label_names: list[str] | None = None
    task: str | None = None
    target_scale: list[float] | None = None
    feature_encoding: list[list] | None = None

    @property
    def vocab_size(self) -> int | None:
        return None if self.vocab is None else len(self.vocab)

    def as_dict(self) -> dict:
        """Plain containers only (what a weights_only checkpoint may hold); None fields left out."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, values: dict) -> DataDescription:
        return cls(**values)

    def differences(self, other: DataDescription) -> list[str]:
        """The fields in which `other` differs from this description, as short phrases."""
        out = []
        for name in (f.name for f in dataclasses.fields(self) if f.name != "labels_present"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                if name == "vocab":
                    out.append(f"vocab ({self.vocab_size} vs {other.vocab_size} tokens, not the same list)")
                else:
                    out.append(f"{name} ({mine} vs {theirs})")
        return out
