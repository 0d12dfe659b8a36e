"""Reading a composed config: its plain values, the task's own part, and how two configs differ."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf


def plain(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def task_config(cfg: DictConfig, resolve: bool = True) -> dict:
    """The composed config without Hydra's own node, as plain containers (what .hydra/config.yaml holds)."""
    task = OmegaConf.to_container(cfg, resolve=False)
    task.pop("hydra", None)
    return OmegaConf.to_container(OmegaConf.create(task), resolve=True) if resolve else task


def flat(node, prefix: str = "") -> dict:
    """Dotted keys of a nested mapping -> its leaves (an empty mapping is a leaf)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out |= flat(value, f"{prefix}{key}.")
        return out or {prefix.rstrip("."): {}}
    return {prefix.rstrip("."): node}


def config_changes(old: dict, new: dict) -> dict[str, tuple]:
    """Dotted keys whose values differ between two task configs, with (old, new) values."""
    old, new = flat(old), flat(new)
    pairs = {k: (old.get(k, "<absent>"), new.get(k, "<absent>")) for k in old.keys() | new.keys()}
    return {k: pair for k, pair in sorted(pairs.items()) if pair[0] != pair[1]}
