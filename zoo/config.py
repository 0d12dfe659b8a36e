"""From a composed config to objects: compose, check option types, build the data and the model.

The model config is flat: `_target_` names the network, `learner` the Learner class, and each other
key goes to whichever of the two constructors names it. The data's description sizes the network
through the learner (Learner.net_sizes), so nobody sets channel counts or vocabulary sizes by hand.
"""

from __future__ import annotations

import inspect
import types
import typing
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from datamodules.description import DataDescription
from zoo.errors import UserError

ROOT = Path(__file__).resolve().parents[1]  # the project folder: configs/, outputs/, data/
CONFIG_DIR = ROOT / "configs"


def plain(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def compose(config_name: str = "train", overrides=(), output_dir=None) -> DictConfig:
    """Compose a config as the command line would (for tests, benchmarks, sections and the Python API)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import open_dict

    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = hydra_compose(config_name, overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # so ${hydra:...} interpolations resolve as in a CLI run
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


def task_config(cfg: DictConfig, resolve: bool = True) -> dict:
    """The composed config without Hydra's own node, as plain containers (what .hydra/config.yaml holds)."""
    task = OmegaConf.to_container(cfg, resolve=False)
    task.pop("hydra", None)
    return OmegaConf.to_container(OmegaConf.create(task), resolve=True) if resolve else task


def data_overrides_apply_to_any_data(overrides: list[str]) -> list[str]:
    """For evaluate: `data.x=v` becomes `++data.x=v`, as the key may belong to the checkpoint's data, not the
    default preset's."""
    return [f"++{o}" if o.startswith("data.") and "=" in o else o for o in overrides]


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


# --- option types --------------------------------------------------------------------------------
def _accepts(annotation, value) -> bool | None:
    """Whether value fits a constructor's type annotation; None when the annotation says nothing checkable."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        answers = [_accepts(a, value) for a in typing.get_args(annotation)]
        return None if None in answers else any(answers)
    if annotation is type(None):
        return value is None
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    if annotation in (list, tuple) or origin in (list, tuple):
        return isinstance(value, (list, tuple))
    if annotation is float:  # 1 is a fine float
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation in (bool, str):
        return isinstance(value, annotation)
    return None


def _type_name(annotation) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation) if a is not type(None))
    return getattr(annotation, "__name__", str(annotation))


def check_types(target, values: dict, prefix: str) -> None:
    """Each option given must fit its constructor's annotation, or else the type of its default."""
    try:
        parameters = inspect.signature(target, eval_str=True).parameters
    except NameError:
        parameters = inspect.signature(target).parameters
    for name, param in parameters.items():
        value, default = values.get(name), param.default
        if name not in values:
            continue
        annotation = param.annotation if not isinstance(param.annotation, str) else inspect.Parameter.empty
        if value is None:  # null is fine where the annotation or the default allows it
            if default not in (param.empty, None) and _accepts(annotation, None) is not True:
                raise UserError(f"{prefix}.{name} cannot be null; give a value like its default {default!r}")
            continue
        if annotation is inspect.Parameter.empty:
            if default is param.empty or default is None:
                continue
            annotation = type(default)
        if _accepts(annotation, value) is False:
            like = "" if default is param.empty or default is None else f" (like its default {default!r})"
            raise UserError(f"{prefix}.{name} must be {_type_name(annotation)}{like}, got {value!r}")


# --- building ---------------------------------------------------------------------------------------
def instantiate(cfg, **kwargs):
    """hydra.utils.instantiate, but a UserError raised inside a constructor stays a UserError."""
    try:
        return hydra.utils.instantiate(cfg, **kwargs)
    except hydra.errors.InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, UserError):
            raise cause from None
        if isinstance(cause, TypeError) and "unexpected keyword" in str(cause):
            target = cfg.get("_target_", "a config entry")
            raise UserError(f"{target} got an option it does not know: {cause}") from err
        raise


def instantiate_group(group) -> list:
    """The objects of a config group whose entries each have a _target_ (callbacks, loggers); null entries skipped."""
    return [instantiate(entry) for entry in (group or {}).values() if entry is not None]


def build_datamodule(data_cfg):
    check_types(hydra.utils.get_object(data_cfg["_target_"]), plain(data_cfg), "data")
    return instantiate(data_cfg)


def learner_class(path):
    """The Learner class a model config names in `learner:`."""
    from zoo.learners.base import Learner

    try:
        cls = hydra.utils.get_object(str(path))
    except (ImportError, AttributeError, ValueError) as err:
        cls = err
    if not (isinstance(cls, type) and issubclass(cls, Learner)):
        raise UserError(f"model.learner must name a Learner class, e.g. zoo.learners.classify.Classifier, got {path!r}")
    return cls


def build_model(model_cfg, data: DataDescription, names: tuple[str | None, str | None] = (None, None)):
    """The learner with its network, sized from the data's description.

    `names` are the model and data presets, for the sentence that says a pair cannot work.
    """
    cfg = plain(model_cfg)
    cls = learner_class(cfg.pop("learner", None))
    net_cls = hydra.utils.get_object(cfg["_target_"])
    model_name, data_name = names[0] or net_cls.__name__, names[1] or "the data given"
    cls.check_data(model_name, data, data_name)
    learner_params = inspect.signature(cls).parameters
    learner_kwargs = {k: cfg.pop(k) for k in list(cfg) if k in learner_params and k not in ("net", "data")}
    check_types(net_cls, cfg, "model")
    check_types(cls, learner_kwargs, "model")
    for key in ("optimizer", "scheduler"):
        if learner_kwargs.get(key) is not None:
            learner_kwargs[key] = instantiate(learner_kwargs[key])
    net = instantiate(cfg, **cls.net_sizes(data))
    return cls(net=net, data=data, **learner_kwargs)


def model_presets() -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / "model").glob("*.yaml"))


def data_presets() -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / "data").glob("*.yaml"))


def pixel_scaling(learner: str | None) -> str:
    """The pixel scale the image presets serve to a learner (`${pixel_scaling:${model.learner}}`)."""
    return (learner_class(learner).pixel_scaling if learner else None) or "standard"


def project_root() -> str:
    return str(ROOT)


def register_resolvers() -> None:
    for name, function in (("pixel_scaling", pixel_scaling), ("zoo_root", project_root)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function)


register_resolvers()
