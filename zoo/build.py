"""From a composed config to the objects of a run: every option checked, then the data and the learner.

The model config is flat: `_target_` names the network, `learner` the Learner class, `about` holds the facts
of its card, and each other key goes to whichever of the two constructors takes it (the learner first). The
data's description sizes the network through the learner (Learner.net_sizes), so nobody sets channel
counts or vocabulary sizes by hand. A checkpoint's stored config is built the same way and checked by the same rules.
"""

from __future__ import annotations

import contextlib

import hydra
from omegaconf import DictConfig, OmegaConf

from datamodules.description import DataDescription
from zoo.config import plain
from zoo.errors import Interrupted, UserError, interruption
from zoo.learners.base import Learner
from zoo.options import check_node, check_tree, check_value, parameters, target

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


GROUPS = ("trainer", "data", "callbacks", "logger")  # config groups whose entries name their own constructor


def learner_class(path) -> type[Learner]:
    """The Learner class a model config names in `learner:`."""
    try:
        cls = hydra.utils.get_object(str(path))
    except Exception as err:  # an import that fails for any reason is the same mistake
        cls = err
    if not (isinstance(cls, type) and issubclass(cls, Learner)):
        raise UserError(f"model.learner must name a Learner class, e.g. zoo.learners.classify.Classifier, got {path!r}")
    return cls


def check_model(values: dict, prefix: str = "model") -> None:
    """The flat model config: each key checked by the learner or the network, whichever takes it."""
    if not isinstance(values.get("_target_"), str):
        raise UserError(f"{prefix}._target_ must name the network's class, e.g. zoo.nets.mlp.MLP")
    owners = [learner_class(values.get("learner")), target(prefix, values["_target_"])]
    check_node(prefix, values, owners, skip=("learner", "net", "data", "about"))


def unset(node: dict, prefix: str = "") -> list[str]:
    """The keys a config leaves mandatory (???), Hydra's own aside."""
    out = []
    for key, value in node.items():
        if value == "???":
            out.append(f"{prefix}{key}")
        elif isinstance(value, dict) and f"{prefix}{key}" != "hydra":
            out += unset(value, f"{prefix}{key}.")
    return out


def check_config(cfg: DictConfig, entry) -> dict:
    """The entry point's own options (`entry`'s declaration; None: only the groups), then every group.

    Returns the top-level options the entry does not own and that are set (a learner's evaluate options).
    """
    try:
        values = {key: plain(node) if isinstance(node, DictConfig) else OmegaConf.to_object(node)
                  if OmegaConf.is_config(node) else node for key, node in cfg.items() if key != "hydra"}  # fmt: skip
    except Exception as err:  # an interpolation that cannot resolve, e.g. a key a preset does not have
        raise UserError(f"the config cannot be resolved: {str(err).splitlines()[0]}") from err
    missing = sorted(unset(OmegaConf.to_container(cfg, resolve=False)))
    if missing:  # a preset's ??? (data=text's data.path): the value only the user can give
        preset_of = missing[0].split(".")[0]
        raise UserError(
            f"{missing[0]} has no value, and this {preset_of} config needs one: pass {missing[0]}=..."
            + (f" (also {', '.join(missing[1:])})" if len(missing) > 1 else "")
        )
    others = {}
    if entry is not None:
        owned, _ = parameters(entry)
        top = {k: v for k, v in values.items() if not isinstance(v, dict)}
        check_node("", {k: v for k, v in top.items() if k in owned}, [entry])
        others = {k: v for k, v in top.items() if k not in owned and v is not None}
    for group in GROUPS:
        node = values.get(group)
        if isinstance(node, dict):
            check_tree(group, node, entries=group in ("callbacks", "logger"))
    if isinstance(values.get("model"), dict):
        check_model(values["model"])
    return others


def check_learner_options(hook, options: dict, learner: str, mode: str) -> dict:
    """evaluate.py's options that belong to the checkpoint's learner: the keyword-only parameters of `hook`."""
    declared, _ = parameters(hook, keyword_only=True)
    for key, value in options.items():
        if key not in declared:
            takes = ", ".join(declared) or "none"
            raise UserError(
                f"{key}={value} is not an option of this checkpoint's {learner} with mode={mode} (its options: {takes})"
            )
        check_value(key, value, declared[key])
    return options


def build_datamodule(data_cfg):
    if not isinstance(data_cfg.get("_target_") if hasattr(data_cfg, "get") else None, str):
        raise UserError("data needs a preset: pass data=<one of the data presets>, e.g. data=digits")
    return instantiate(data_cfg)


def build_model(model_cfg, data: DataDescription, names: tuple[str | None, str | None] = (None, None)):
    """The learner with its network, sized from the data's description.

    `names` are the model and data presets, for the sentence that says a pair cannot work.
    """
    cfg = plain(model_cfg)
    cfg.pop("about", None)  # the card's facts (slide, papers), for no constructor
    cls = learner_class(cfg.pop("learner", None)).learner_for(data)
    net_cls = target("model", cfg["_target_"])
    model_name, data_name = names[0] or net_cls.__name__, names[1] or "the data given"
    cls.check_data(model_name, data, data_name)
    learner_params, _ = parameters(cls)
    learner_kwargs = {k: cfg.pop(k) for k in list(cfg) if k in learner_params and k not in ("net", "data")}
    for key in ("optimizer", "scheduler"):
        if learner_kwargs.get(key) is not None:
            learner_kwargs[key] = instantiate(learner_kwargs[key])
    sizes = cls.net_sizes(data)
    fixed = sorted(set(cfg) & set(sizes))
    if fixed:
        raise UserError(f"model.{fixed[0]} is set by the data ({sizes[fixed[0]]} here); leave it out of the config")
    net = instantiate(cfg, **sizes)
    return cls(net=net, data=data, **learner_kwargs)


def model_from_checkpoint(checkpoint: dict, path) -> Learner:
    """The model the checkpoint's (checked) spec describes, with its weights; a mismatch is one sentence."""
    spec = checkpoint["zoo"]
    check_model(spec["model"], "the checkpoint's model")
    try:
        description = DataDescription.from_dict(spec["description"])
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"checkpoint {path} has a damaged data description ({err!r}); train it again") from err
    with building("checkpoint's model"):
        model = build_model(spec["model"], description)
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, TypeError, AttributeError, KeyError) as err:
        lines = str(err).splitlines()
        raise UserError(
            f"checkpoint {path} does not fit the model its spec describes: "
            f"{lines[1].strip() if len(lines) > 1 else err}"
        ) from err
    state = checkpoint.get("zoo_state")
    model.restore(state if isinstance(state, dict) else {})
    model.spec = spec
    return model
