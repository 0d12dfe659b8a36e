"""Composing a config as the command line does, and what Hydra composed it from.

The config tree travels inside the package (zoo/configs: in a clone, a link to the project's configs/),
so an installed wheel composes the same configs as a clone. A composition Hydra refuses (a mistyped key,
an unknown preset, a sweep without -m) is one sentence. `Composition` holds the facts of a composition
(the overrides, the options chosen, the recipes applied, the config folders searched): the entry point
reads them from Hydra once and hands them on, so nothing later asks Hydra's global state.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import hydra
import yaml
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from zoo.config import flat
from zoo.errors import UserError, interruption

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def override_key(override: str) -> str:
    """The key a command-line override sets: `+model.x=1` -> `model.x`, `~callbacks.x` -> `callbacks.x`."""
    return override.split("=", 1)[0].lstrip("+~")


def home() -> Path:
    """Where outputs, data and reports go by default: $ZOO_HOME, or the folder the command runs in."""
    return Path(os.environ.get("ZOO_HOME") or os.getcwd()).resolve()


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
    group_value = re.match(r"Config group override must be a string or a list\. Got (\w+)", first)
    if group_value:
        scalar = re.compile(r"[+-]?[\d.eE+-]+|true|false|null", re.I)  # what Hydra reads as no string
        given = next((o for o in overrides if "=" in o and (CONFIG_DIR / override_key(o)).is_dir()
                      and scalar.fullmatch(o.split("=", 1)[1])), None)  # fmt: skip
        if given:
            group = override_key(given)
            return f"{given} gives the group {group} no preset's name; choose one of {', '.join(presets(group))}"
    merge = re.search(
        r"Error merging override ([\w./]+)=.*Cannot merge DictConfig with (\w+)", f"{text} {err.__cause__}", re.S
    )
    if merge:
        key = merge.group(1)
        group = key.replace(".", "/")
        pick = f"; {group}=<name> picks one of {', '.join(presets(group))}" if presets(group) else ""
        return f"{key} is a config entry (a mapping of its keys), so a {merge.group(2)} cannot replace it{pick}"
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
    others = [o for o in overrides if override_key(o) != key]
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


@dataclass(frozen=True)
class Composition:
    """What Hydra composed a config from, read once from its `hydra` node (`of`)."""

    config_name: str
    overrides: tuple[str, ...]  # the command line's, as Hydra parsed them
    choices: dict  # group -> the option chosen (model=cnn, model/optimizer=adam, recipe/pair=...)
    config_folders: tuple[Path, ...]  # the zoo's config tree and those hydra.searchpath added
    hydra: dict  # Hydra's own node, for the run folder's .hydra/hydra.yaml

    @classmethod
    def of(cls, hydra_node, config_name: str = "train") -> Composition:
        node = OmegaConf.to_container(hydra_node, resolve=False)
        runtime = node.get("runtime") or {}
        folders = [CONFIG_DIR] + [
            Path(source["path"])
            for source in runtime.get("config_sources") or []
            if source.get("schema") == "file" and source.get("provider") != "hydra"
        ]
        return cls(
            config_name,
            tuple(str(o) for o in (node.get("overrides") or {}).get("task") or []),
            dict(runtime.get("choices") or {}),
            tuple(dict.fromkeys(folder.resolve() for folder in folders if folder.is_dir())),
            node,
        )

    def choice(self, group: str) -> str | None:
        return self.choices.get(group)

    @property
    def recipes(self) -> list[str]:
        """The recipe files (configs/recipe/model/, configs/recipe/pair/) that this composition applied."""
        names = []
        for group in ("recipe/model", "recipe/pair"):
            name = self.choice(group)
            if name and (CONFIG_DIR / group / f"{name}.yaml").is_file():
                names.append(f"{group}/{name}")
        return names

    def parameters(self, cfg) -> dict:
        """What makes this run this run: the presets chosen, the keys the user set on the command line or a
        recipe changed (with their composed values; never a _target_), the seed and the tags. Sent to every
        logger."""
        keys = set()
        for override in self.overrides:
            key = override_key(override)
            if "=" in override and not key.startswith(("hydra", "paths")):
                keys.add(key)
        for recipe in self.recipes:
            keys |= recipe_keys(recipe)
        parameters = {group: self.choice(group) for group in ("model", "data") if self.choice(group)}
        for key in sorted(keys):
            if self.choice(key) is not None:  # a group's option chosen, e.g. model=cnn or model/optimizer=adam
                parameters[key] = self.choice(key)
                continue
            try:
                value = OmegaConf.select(cfg, key, default=None)
                value = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
            except Exception:  # a value that does not resolve: left out of the parameters
                continue
            for name, leaf in (flat(value, f"{key}.") if isinstance(value, dict) else {key: value}).items():
                if not name.endswith(("_target_", "_partial_")):
                    parameters[name] = leaf if isinstance(leaf, (int, float, str, bool)) or leaf is None else str(leaf)
        return parameters | {"seed": cfg.get("seed"), "tags": ",".join(cfg.get("tags") or [])}


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
