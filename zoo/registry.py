"""The families of the zoo, read from the one place each is registered: its model config.

A model config names its network (`_target_`) and its learner (`learner`); the learner says which
kinds of data it learns from, and a network that takes only some of them says so (`data_kinds`).
`list_models()` and `python -m zoo list` fall out of that, like timm's `list_models` and
torchvision's `get_model`: nothing else needs to be edited to add a family.
"""

from __future__ import annotations

from dataclasses import dataclass

import hydra
from omegaconf import OmegaConf

from zoo.config import CONFIG_DIR, build_datamodule, build_model, compose, data_presets, learner_class, model_presets


@dataclass(frozen=True)
class ModelEntry:
    name: str  # the preset: model=<name>
    network: str
    learner: str
    data_kinds: tuple[str, ...]
    data: tuple[str, ...]  # the data presets of those kinds


def data_kind(preset: str) -> str:
    """The kind of data a preset holds (its datamodule class says)."""
    target = OmegaConf.load(CONFIG_DIR / "data" / f"{preset}.yaml")["_target_"]
    return hydra.utils.get_object(target).kind


def list_data() -> dict[str, str]:
    """data preset -> its kind."""
    return {name: data_kind(name) for name in data_presets()}


def list_models() -> dict[str, ModelEntry]:
    """model preset -> its network, learner and the data it can learn from."""
    kinds = list_data()
    entries = {}
    for name in model_presets():
        cfg = compose("train", [f"model={name}"]).model  # with what its defaults list brings (plainnet: resnet's)
        net_kinds = getattr(hydra.utils.get_object(cfg["_target_"]), "data_kinds", None)
        usable = tuple(k for k in learner_class(cfg.learner).data_kinds if net_kinds is None or k in net_kinds)
        entries[name] = ModelEntry(
            name, cfg["_target_"], cfg.learner, usable, tuple(d for d, kind in kinds.items() if kind in usable)
        )
    return entries


def create_model(name: str, data: str = "digits", *overrides: str):
    """The learner of model preset `name`, sized for data preset `data` (both as train.py composes them)."""
    cfg = compose("train", [f"model={name}", f"data={data}", *overrides])
    datamodule = build_datamodule(cfg.data)
    datamodule.prepare_data()
    return build_model(cfg.model, datamodule.description, (name, data))
