"""From config to objects: the config tree, composing it as the command line does, and building its entries.

The config tree travels inside the package (zoo/configs: in a clone, a link to the project's configs/),
so an installed wheel composes the same configs as a clone. A composition Hydra refuses (a mistyped key,
an unknown preset, a sweep without -m) is one sentence; so is a constructor that refuses its values.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
from pathlib import Path

import hydra
import yaml
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from zoo.errors import Interrupted, UserError, interruption

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def home() -> Path:
    """Where outputs, data and reports go by default: $ZOO_HOME, or the folder the command runs in."""
    return Path(os.environ.get("ZOO_HOME") or os.getcwd()).resolve()


def plain(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


# --- composing ---------------------------------------------------------------------------------------------
def compose(config_name: str = "train", overrides=(), output_dir=None) -> DictConfig:
    """Compose a config as the command line would (the Python API, sections, tests, benchmarks)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import open_dict

    if not CONFIG_DIR.is_dir():
        raise UserError(f"the zoo's configs are not at {CONFIG_DIR}; reinstall the package (pip install lecture-zoo)")
    overrides = list(overrides)
    try:
        with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
            cfg = hydra_compose(config_name, overrides=overrides, return_hydra_config=True)
    except Exception as err:
        if interruption(err):
            raise interruption(err) from None
        raise UserError(hydra_sentence(err, overrides, config_name)) from err
    HydraConfig.instance().set_config(cfg)  # so ${hydra:...} interpolations resolve as in a CLI run
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


def hydra_sentence(err: Exception, overrides: list[str], config_name: str = "train") -> str:
    """What Hydra's refusal of a command line means, in one sentence that says what works."""
    text = str(err).strip()
    first = text.splitlines()[0] if text else type(err).__name__
    missing = re.search(r"Could not find '([^']+)/([^'/]+)'", text)
    if isinstance(err, hydra.errors.MissingConfigException) and missing:
        group, name = missing.groups()
        listed = re.search(r"Available options in '[^']+':\n(.*?)(?:\nConfig search path|\Z)", text, re.S)
        options = ", ".join(line.strip() for line in listed.group(1).splitlines()) if listed else "none"
        return f"{group}={name} is not a preset of {group}; choose one of {options}"
    key = re.match(r"Could not override '([^']+)'", first)
    if key and "not in struct" in str(err.__cause__):
        return unknown_key_sentence(key.group(1), overrides, config_name)
    sweep = re.match(r"Ambiguous value for argument '([^']+)'", first)
    if sweep:
        return (
            f"{sweep.group(1)} gives several values: add -m to run one job for each, or write a list as "
            f"key=[a,b] or a string as key='a,b'"
        )
    if isinstance(err, hydra.errors.OverrideParseException):
        bad = next((o for o in overrides if not _parses(o)), " ".join(overrides))
        return (
            f"the override {bad!r} cannot be read ({first}); see https://hydra.cc/docs/advanced/override_grammar/basic"
        )
    cause = err.__cause__
    detail = f": {str(cause).strip().splitlines()[0]}" if cause is not None and str(cause).strip() else ""
    return f"the config cannot be composed: {first}{detail}"


def _parses(override: str) -> bool:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        OverridesParser.create().parse_override(override)
        return True
    except Exception:
        return False


def unknown_key_sentence(key: str, overrides: list[str], config_name: str) -> str:
    """`<key> is not a key ...; did you mean ...` with the keys that exist where it was asked for."""
    parent, _, name = key.rpartition(".")
    others = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") != key]
    try:
        cfg = compose(config_name, others)
        node = OmegaConf.select(cfg, parent) if parent else cfg
        keys = [str(k) for k in node.keys()] if isinstance(node, DictConfig) else []
    except Exception:  # the other overrides fail too: the first sentence is still this one
        keys = []
    where = f"of {parent}" if parent else "at the top of the config"
    close = difflib.get_close_matches(name, keys, n=1)
    hint = f"did you mean {parent + '.' if parent else ''}{close[0]}? " if close else ""
    listed = f"the keys {where} are {', '.join(sorted(k for k in keys if k != 'hydra'))}; " if keys else ""
    return f"{key} is not a key {where}; {hint}{listed}+{key}=... adds a new one"


def data_overrides_apply_to_any_data(overrides: list[str]) -> list[str]:
    """For evaluate: `data.x=v` becomes `++data.x=v`, as the key may belong to the checkpoint's data (whose
    preset is not composed)."""
    return [f"++{o}" if o.startswith("data.") and "=" in o else o for o in overrides]


def task_config(cfg: DictConfig, resolve: bool = True) -> dict:
    """The composed config without Hydra's own node, as plain containers (what .hydra/config.yaml holds)."""
    task = OmegaConf.to_container(cfg, resolve=False)
    task.pop("hydra", None)
    return OmegaConf.to_container(OmegaConf.create(task), resolve=True) if resolve else task


def choice(cfg, group: str) -> str | None:
    """The option chosen for a config group (model=..., data=...), when the config was composed by Hydra."""
    if HydraConfig.initialized():
        return HydraConfig.get().runtime.choices.get(group)
    return OmegaConf.select(cfg, f"hydra.runtime.choices.{group}")


def applied_recipes(cfg) -> list[str]:
    """The recipe files (configs/recipe/model/, configs/recipe/pair/) that this composition applied."""
    names = []
    for group in ("recipe/model", "recipe/pair"):
        name = choice(cfg, group)
        if name and (CONFIG_DIR / group / f"{name}.yaml").is_file():
            names.append(f"{group}/{name}")
    return names


def recipe_keys(name: str) -> set[str]:
    """The dotted keys a recipe file sets, with those of the recipes its defaults list names."""
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        return set()
    content = yaml.safe_load(path.read_text()) or {}
    keys = set()
    for entry in content.pop("defaults", []) or []:
        if isinstance(entry, str) and entry != "_self_":
            base = entry.lstrip("/") if entry.startswith("/") else f"{name.rsplit('/', 1)[0]}/{entry}"
            keys |= recipe_keys(base)
    return keys | set(flat(content))


def run_parameters(cfg) -> dict:
    """What makes this run this run: the presets chosen, the keys the user set on the command line or a recipe
    changed (with their composed values; never a _target_), the seed and the tags. Sent to every logger."""
    keys = set()
    if HydraConfig.initialized():
        for override in HydraConfig.get().overrides.task:
            key = str(override).split("=", 1)[0].lstrip("+~")
            if "=" in str(override) and not key.startswith(("hydra", "paths")):
                keys.add(key)
    for recipe in applied_recipes(cfg):
        keys |= recipe_keys(recipe)
    parameters = {group: choice(cfg, group) for group in ("model", "data") if choice(cfg, group)}
    for key in sorted(keys):
        if choice(cfg, key) is not None:  # a group's option chosen, e.g. model=cnn or model/optimizer=adam
            parameters[key] = choice(cfg, key)
            continue
        try:
            value = OmegaConf.select(cfg, key, default=None)
            value = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
        except Exception:  # a value that only resolves inside a Hydra job: left out of the parameters
            continue
        for name, leaf in (flat(value, f"{key}.") if isinstance(value, dict) else {key: value}).items():
            if not name.endswith(("_target_", "_partial_")):
                parameters[name] = leaf if isinstance(leaf, (int, float, str, bool)) or leaf is None else str(leaf)
    return parameters | {"seed": cfg.get("seed"), "tags": ",".join(cfg.get("tags") or [])}


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


def presets(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


def preset(group: str, name: str, *overrides: str) -> DictConfig:
    """One preset of a group as `group=name` composes it (its defaults list applied), within the config of
    `evaluate` (its paths), leaving the state of a running command alone."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    args = [f"{group}={name}", "ckpt_path=none", *overrides]
    try:
        if GlobalHydra.instance().is_initialized():  # inside a command: its own Hydra composes it
            cfg = hydra_compose("evaluate", overrides=args)
        else:
            with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
                cfg = hydra_compose("evaluate", overrides=args)
    except Exception as err:
        raise UserError(hydra_sentence(err, args, "evaluate")) from err
    return cfg[group]


# --- what a checkpoint may name ------------------------------------------------------------------------
def config_folders() -> list[Path]:
    """The config tree's folders this composition searches: the zoo's and those added by hydra.searchpath."""
    folders = [CONFIG_DIR]
    if HydraConfig.initialized():
        for source in HydraConfig.get().runtime.config_sources:
            if source.schema == "file" and source.provider != "hydra":
                folders.append(Path(source.path))
    return list(dict.fromkeys(folder.resolve() for folder in folders if folder.is_dir()))


_offered: dict[tuple, dict[str, frozenset]] = {}


def offered_targets() -> dict[str, frozenset]:
    """{"model": ..., "data": ...}: every class a config of the tree names for a model (networks, learners,
    optimisers, schedulers) or for data. A checkpoint may name these and nothing else."""
    folders = tuple(config_folders())
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


# --- building ---------------------------------------------------------------------------------------
# What torch and the datamodules raise when a constructor refuses its values (and Lightning's own refusal).
REFUSALS = (ValueError, TypeError, RuntimeError, OverflowError, MemoryError, ZeroDivisionError, AssertionError,
            IndexError, KeyError, NotImplementedError)  # fmt: skip


@contextlib.contextmanager
def building(what: str):
    """A constructor (torch, Lightning, a datamodule) that refuses the values it was given becomes a sentence."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        yield
    except (UserError, Interrupted):
        raise
    except Exception as err:
        if interruption(err):
            raise interruption(err) from None
        cause = err
        while isinstance(cause, hydra.errors.InstantiationException) and cause.__cause__ is not None:
            cause = cause.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        if not isinstance(cause, (*REFUSALS, MisconfigurationException)):
            raise
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0][:300]
        if isinstance(cause, MemoryError) or "not enough memory" in reason or "can't allocate" in reason:
            reason = "it needs more memory than this machine has"
        raise UserError(f"the {what} options cannot be built: {reason}; check the {what}.* values") from err


def instantiate(cfg, **kwargs):
    """hydra.utils.instantiate, but a UserError (or an interruption) inside a constructor stays what it is."""
    try:
        return hydra.utils.instantiate(cfg, **kwargs)
    except hydra.errors.InstantiationException as err:
        if interruption(err):  # Hydra wraps what a constructor raises
            raise interruption(err) from None
        if isinstance(err.__cause__, UserError):
            raise err.__cause__ from None
        raise


def instantiate_group(group) -> list:
    """The objects of a config group whose entries each have a _target_ (callbacks, loggers); null entries skipped."""
    return [instantiate(entry) for entry in (group or {}).values() if entry is not None]


# --- resolvers the configs use ---------------------------------------------------------------------------
def pixel_scaling(learner: str | None) -> str:
    """The pixel scale the image presets serve to a learner (`${pixel_scaling:${model.learner}}`)."""
    if not learner:
        return "standard"
    try:
        cls = hydra.utils.get_object(str(learner))
    except Exception as err:
        raise UserError(f"model.learner names nothing importable: {learner!r}") from err
    return getattr(cls, "pixel_scaling", None) or "standard"


def register_resolvers() -> None:
    for name, function in (("pixel_scaling", pixel_scaling), ("zoo_home", lambda: str(home()))):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function)


register_resolvers()
