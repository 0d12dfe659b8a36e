"""The catalogue of the zoo: every model preset with its network, its learner and the data it learns from.

It is read from the configs, the one place a family is registered: a model config names its network
(`_target_`) and its learner (`learner`); the learner says which kinds of data it learns from, and a
network that takes only some of them says so (`data_kinds`). Like timm's `list_models` and
`create_model`: nothing else is edited to add a family.
"""

from __future__ import annotations

from dataclasses import dataclass

import hydra

from zoo.build import build_datamodule, build_model, learner_class
from zoo.composing import CONFIG_DIR, compose, preset, presets
from zoo.errors import UserError


@dataclass(frozen=True)
class ModelEntry:
    name: str  # the preset: model=<name>
    network: str
    learner: str
    data_kinds: tuple[str, ...]
    data: tuple[str, ...]  # the data presets of those kinds
    about: dict  # the card's facts: slide, what, the data and metric of its CPU default, papers


def data_kind(name: str) -> str:
    """The kind of data a preset holds (its datamodule class says)."""
    return hydra.utils.get_object(preset("data", name)["_target_"]).kind


def list_data() -> dict[str, str]:
    """data preset -> its kind."""
    return {name: data_kind(name) for name in presets("data")}


def list_models() -> dict[str, ModelEntry]:
    """model preset -> its network, learner and the data it can learn from."""
    names = presets("model")
    if not names:
        raise UserError(f"no model configs found in {CONFIG_DIR}; reinstall the package (pip install lecture-zoo)")
    kinds = list_data()
    entries = {}
    for name in names:
        cfg = compose("train", [f"model={name}"]).model  # with what its defaults list brings (plainnet: resnet's)
        net_kinds = getattr(hydra.utils.get_object(cfg["_target_"]), "data_kinds", None)
        usable = tuple(k for k in learner_class(cfg.learner).data_kinds if net_kinds is None or k in net_kinds)
        entries[name] = ModelEntry(
            name,
            cfg["_target_"],
            cfg.learner,
            usable,
            tuple(d for d, kind in kinds.items() if kind in usable),
            dict(cfg.get("about") or {}),
        )
    return entries


def create_model(name: str, data: str = "digits", *overrides: str):
    """The learner of model preset `name`, sized for data preset `data` (both as train.py composes them)."""
    cfg = compose("train", [f"model={name}", f"data={data}", *overrides])
    datamodule = build_datamodule(cfg.data)
    datamodule.prepare_data()
    return build_model(cfg.model, datamodule.description, (name, data))
