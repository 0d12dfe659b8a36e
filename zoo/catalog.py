"""The catalogue of the zoo: every model preset with its network, its learner and the data it learns from.

It is read from the configs, the one place a family is registered: a model config names its network
(`_target_`) and its learner (`learner`); the learner says which kinds of data it learns from
(`data_kinds`), a network that takes only some of them says so too, and each data preset's class says
which kind it holds (`kind`). Like timm's `list_models`, a listing answers at once: the configs are read
as YAML and those class attributes from the classes' source (never imported, so neither torch nor
Lightning is loaded); tests/test_house.py holds the listing to what importing the classes says.
`create_model` builds an untrained model as train.py would. Nothing else is edited to add a family.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from datamodules.description import KINDS
from zoo.composing import CONFIG_DIR, compose, presets
from zoo.errors import UserError


@dataclass(frozen=True)
class ModelEntry:
    name: str  # the preset: model=<name>
    network: str
    learner: str
    data_kinds: tuple[str, ...]
    data: tuple[str, ...]  # the data presets of those kinds
    about: dict  # the card's facts: slide, what, the data and metric of its CPU default, papers


def preset_values(group: str, name: str) -> dict:
    """A preset's own keys with those of the presets of its group that its defaults list names, merged as Hydra
    merges them (a base first, the file's own keys over it); entries for other groups are left out."""
    content = yaml.safe_load((CONFIG_DIR / group / f"{name}.yaml").read_text()) or {}
    merged: dict = {}
    for entry in content.pop("defaults", None) or []:
        if isinstance(entry, str) and entry != "_self_":
            merged = _merge(merged, preset_values(group, entry.removeprefix(f"/{group}/")))
    return _merge(merged, content)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@cache
def _module_tree(module: str) -> tuple[ast.Module, Path] | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return ast.parse(Path(spec.origin).read_text()), Path(spec.origin)


def class_attribute(path: str, attribute: str, default=None):
    """A class attribute given as a literal in the class's source (or a base class's), read without importing."""
    module, _, name = path.rpartition(".")
    found = _module_tree(module)
    if found is None:
        return default
    tree, _ = found
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    if name not in classes:
        return default
    for statement in classes[name].body:
        value = _assigned(statement, attribute)
        if value is not _NOTHING:
            return value
    imported = {alias.asname or alias.name: f"{node.module}.{alias.name}" for node in tree.body
                if isinstance(node, ast.ImportFrom) and node.module for alias in node.names}  # fmt: skip
    for base in classes[name].bases:
        if isinstance(base, ast.Name):
            where = f"{module}.{base.id}" if base.id in classes else imported.get(base.id)
            if where:
                value = class_attribute(where, attribute, _NOTHING)
                if value is not _NOTHING:
                    return value
    return default


_NOTHING = object()


def _assigned(statement, attribute: str):
    """The literal value `statement` gives `attribute` (`a = v`, `a: T = v`, `x, a = u, v`), else _NOTHING."""
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        pairs = [(statement.target, statement.value)] if statement.value is not None else []
    elif isinstance(statement, ast.Assign):
        pairs = []
        for target in statement.targets:
            if isinstance(target, ast.Tuple) and isinstance(statement.value, ast.Tuple):
                pairs += list(zip(target.elts, statement.value.elts, strict=False))
            else:
                pairs.append((target, statement.value))
    else:
        return _NOTHING
    for target, value in pairs:
        if isinstance(target, ast.Name) and target.id == attribute:
            try:
                return ast.literal_eval(value)
            except ValueError:
                return None  # not a literal (the base learner's `tuple(KINDS)`): every kind
    return _NOTHING


def list_data() -> dict[str, str]:
    """data preset -> the kind of data it holds."""
    return {name: class_attribute(preset_values("data", name).get("_target_", ""), "kind") for name in presets("data")}


def list_models(pattern: str = "*") -> dict[str, ModelEntry]:
    """model preset (those matching the shell-style `pattern`) -> its network, learner and the data it can
    learn from."""
    names = presets("model")
    if not names:
        raise UserError(f"no model configs found in {CONFIG_DIR}; reinstall the package (pip install lecture-zoo)")
    kinds = list_data()
    entries = {}
    for name in fnmatch.filter(names, pattern):
        cfg = preset_values("model", name)
        learner_kinds = class_attribute(cfg["learner"], "data_kinds") or tuple(KINDS)
        net_kinds = class_attribute(cfg["_target_"], "data_kinds")
        usable = tuple(k for k in learner_kinds if net_kinds is None or k in net_kinds)
        entries[name] = ModelEntry(
            name,
            cfg["_target_"],
            cfg["learner"],
            usable,
            tuple(d for d, kind in kinds.items() if kind in usable),
            dict(cfg.get("about") or {}),
        )
    return entries


def create_model(name: str, data: str = "digits", *overrides: str):
    """The learner of model preset `name`, sized for data preset `data` (both as train.py composes them)."""
    from zoo.build import build_datamodule, build_model

    cfg = compose("train", [f"model={name}", f"data={data}", *overrides])
    datamodule = build_datamodule(cfg.data)
    datamodule.prepare_data()
    return build_model(cfg.model, datamodule.description, (name, data))
