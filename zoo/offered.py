"""What a checkpoint may name: the classes the config tree offers for a model or for data."""

from __future__ import annotations

import yaml

_offered: dict[tuple, dict[str, frozenset]] = {}


def offered_targets(folders) -> dict[str, frozenset]:
    """{"model": ..., "data": ...}: every class a config of the tree names for a model (networks, learners,
    optimisers, schedulers) or for data, in the config folders a composition searched
    (zoo.composing.Composition.config_folders). A checkpoint may name these and nothing else."""
    folders = tuple(folders)
    if folders not in _offered:
        found = {"model": set(), "data": set()}
        for folder in folders:
            for path in folder.rglob("*.yaml"):
                group = path.relative_to(folder).parts[0]
                try:
                    content = yaml.safe_load(path.read_text()) or {}
                except (OSError, yaml.YAMLError):
                    continue  # Hydra itself refuses such a file when it is composed
                if not isinstance(content, dict):
                    continue
                parts = {group: content} if group in found else {g: content.get(g) for g in found}
                for name, node in parts.items():
                    found[name] |= set(_named_classes(node))
        _offered[folders] = {name: frozenset(values) for name, values in found.items()}
    return _offered[folders]


def _named_classes(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("_target_", "learner") and isinstance(value, str):
                yield value
            else:
                yield from _named_classes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _named_classes(value)
