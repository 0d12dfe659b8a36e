"""Every option of a composed config, checked before any work starts; the first wrong one is one sentence.

An option's rules come from whoever takes it: the type of the constructor's parameter (its annotation,
or else its default's type) and, for the zoo's own classes, the Range or Rule declared beside it
(zoo.ranges). Other libraries' constructors declare no ranges; theirs are THIRD_PARTY below, keyed by
class and found along the class's MRO (so zoo.checkpoint.AtomicCheckpoint gets ModelCheckpoint's).
Nothing here knows a model family: the callers say which constructors take a config entry's keys.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from dataclasses import dataclass

import hydra

from zoo.errors import UserError
from zoo.ranges import Range, Rule, is_number

_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True)
class Declared:
    """What one parameter of a constructor accepts."""

    annotation: object  # the type, without Annotated; _EMPTY when there is none
    rules: tuple  # Range and Rule objects of the option itself (other libraries': THIRD_PARTY)
    default: object
    declared: object = _EMPTY  # the annotation as written: a Union's members may carry rules of their own

    def rules_for(self, value) -> tuple:
        """The rules that hold for this value: those of the option, and those of the member of a Union its type is."""
        base, own = _split(self.declared)
        if typing.get_origin(base) in (typing.Union, types.UnionType):
            members = typing.get_args(base)  # the member the value surely is, else one it may be
            member = next((m for m in members if _accepts(_strip(m), value) is True), None) or next(
                (m for m in members if _accepts(_strip(m), value) is None), None
            )
            own += _split(member)[1] if member is not None else ()
        return own + self.rules


def _split(annotation) -> tuple[object, tuple]:
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        return base, tuple(e for e in extras if isinstance(e, (Range, Rule)))
    return annotation, ()


def _strip(annotation):
    """The annotation with every Annotated layer removed (inside unions too)."""
    base, _ = _split(annotation)
    if typing.get_origin(base) in (typing.Union, types.UnionType):
        return typing.Union[tuple(_strip(a) for a in typing.get_args(base))]  # noqa: UP007
    return base


def parameters(owner, keyword_only: bool = False) -> tuple[dict[str, Declared], bool]:
    """name -> Declared for the options of a class's constructor (or a function; with `keyword_only`, only
    its keyword-only parameters), and whether it takes any keyword (**kwargs)."""
    function = owner.__init__ if inspect.isclass(owner) else owner
    try:
        signature = inspect.signature(owner)
    except (TypeError, ValueError):
        return {}, True
    hints = {}
    for source in (function, owner):  # a dataclass declares its fields on the class
        try:
            hints = typing.get_type_hints(source, include_extras=True)
        except Exception:  # annotations naming what cannot be imported here: the defaults' types stand in
            continue
        if hints:
            break
    declared, rules_table = {}, third_party_rules(owner)
    for name, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if keyword_only and param.kind != param.KEYWORD_ONLY:
            continue
        annotation = hints.get(name, _EMPTY)
        rules = tuple(rules_table.get(name, ()))
        stripped = _strip(annotation) if annotation is not _EMPTY else _EMPTY
        declared[name] = Declared(stripped, rules, param.default, annotation)
    takes_any = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
    options = getattr(owner, "Options", None) if inspect.isclass(owner) else None
    if dataclasses.is_dataclass(options):  # options declared apart from the constructor, along the whole chain
        declared |= parameters(options)[0]
        takes_any = False
    return declared, takes_any


# --- types -------------------------------------------------------------------------------------------
def _accepts(annotation, value) -> bool | None:
    """Whether value fits a type annotation; None when the annotation says nothing checkable."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        answers = [_accepts(a, value) for a in typing.get_args(annotation)]
        return True if True in answers else None if None in answers else False
    if annotation is type(None):
        return value is None
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    if annotation in (list, tuple) or origin in (list, tuple, typing.Sequence):
        if not isinstance(value, (list, tuple)):
            return False
        items = typing.get_args(annotation)
        item = items[0] if items and (origin is not tuple or items[-1] is Ellipsis or len(set(items)) == 1) else None
        answers = [_accepts(item, v) for v in value] if item is not None else []
        return False if False in answers else True
    if annotation is float:  # 1 is a fine float
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation in (bool, str):
        return isinstance(value, annotation)
    if annotation is dict or origin is dict:
        return isinstance(value, dict)
    return None


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation) if a is not type(None))
    if annotation in (list, tuple) or origin in (list, tuple):
        items = typing.get_args(annotation)
        plural = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}
        return f"a list of {plural.get(items[0], _type_name(items[0]) + 's')}" if items else "a list"
    return {int: "int", float: "float", bool: "bool", str: "str", dict: "a mapping"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def _is_int(annotation) -> bool:
    base = _strip(annotation)
    if typing.get_origin(base) in (typing.Union, types.UnionType):
        return any(_is_int(a) for a in typing.get_args(base) if a is not type(None))
    if typing.get_origin(base) in (list, tuple):
        return all(_is_int(a) for a in typing.get_args(base) if a is not Ellipsis) and bool(typing.get_args(base))
    return base is int


def _is_sequence(annotation) -> bool:
    """Whether a type annotation is a list of values (of a Union, any member)."""
    import collections.abc

    base = _strip(annotation)
    origin = typing.get_origin(base)
    if origin in (typing.Union, types.UnionType):
        return any(_is_sequence(a) for a in typing.get_args(base))
    sequences = (list, tuple, typing.Sequence, collections.abc.Sequence, collections.abc.Iterable)
    return base in (list, tuple) or origin in sequences


def check_value(key: str, value, declared: Declared) -> None:
    """One option's value against its type and rules; a wrong one is `UserError("<key> must be ...")`."""
    default = declared.default
    shown = default not in (_EMPTY, None) and not isinstance(default, (dict, list, tuple))
    like = f" (like its default {default!r})" if shown else ""
    annotation = declared.annotation
    if value is None:  # null is fine where the type or the default says so (or nothing is known)
        nothing_known = annotation is _EMPTY and default is _EMPTY
        if not (nothing_known or default is None or _accepts(annotation, None) is True):
            raise UserError(f"{key} cannot be null; give a value{like or ' of its type'}")
        return
    if annotation is _EMPTY and default not in (_EMPTY, None):
        annotation = type(default) if not isinstance(default, tuple) else list
    if annotation is not _EMPTY and _accepts(annotation, value) is False:
        raise UserError(f"{key} must be {_type_name(annotation)}{like}, got {value!r}")
    for rule in declared.rules_for(value):
        each = isinstance(value, (list, tuple)) and isinstance(rule, Range)
        each = each and (declared.annotation is _EMPTY or _is_sequence(declared.annotation))
        items = value if each else [value]
        known = annotation is not _EMPTY
        integer = _is_int(annotation) if known else all(isinstance(v, int) and not isinstance(v, bool) for v in items)
        if each:
            if not all(rule.holds(v) for v in items):
                raise UserError(
                    f"{key} must be a list of {rule.describe(integer, plural=True)}, e.g. [32, 64], got {value!r}"
                )
        elif not rule.holds(value):
            raise UserError(f"{key} must be {rule.describe(integer)}, got {value!r}")


def target(prefix: str, path):
    """The class or function a `_target_` names; one sentence when it names nothing importable."""
    try:
        return hydra.utils.get_object(str(path))
    except Exception as err:  # an import that fails for any reason is the same mistake
        raise UserError(f"{prefix}._target_ names nothing importable: {path!r}") from err


def check_node(prefix: str, values: dict, owners: list, skip: tuple = ()) -> None:
    """Every key of one config entry against the first of `owners` that takes it; a key none of them takes
    is refused; entries below it that name a `_target_` are checked against their own constructor."""
    declared = [parameters(owner) for owner in owners]
    for name, value in values.items():
        if name.startswith("_") or name in skip:
            continue
        key = f"{prefix}.{name}" if prefix else name
        owner = next((d[name] for d, _ in declared if name in d), None)
        if owner is None and not any(takes_any for _, takes_any in declared):
            names = sorted({n for d, _ in declared for n in d if not n.startswith("_")} - set(skip))
            raise UserError(f"{key} is not an option here; the options are {', '.join(names)}")
        if isinstance(value, dict) and "_target_" in value:
            check_tree(key, value)
        elif owner is not None:
            check_value(key, value, owner)
    check_rules_across(owners, values, prefix)


def check_tree(prefix: str, node: dict, entries: bool = False) -> None:
    """A config entry with a `_target_` (and any below it), or a group of such entries (callbacks, logger: with
    `entries`, each of its values must be one, or null)."""
    if "_target_" in node:
        check_node(prefix, node, [target(prefix, node["_target_"])])
        return
    for name, value in node.items():
        if isinstance(value, dict):
            check_tree(f"{prefix}.{name}", value)
        elif value is not None and entries:
            raise UserError(
                f"{prefix}.{name} must be a config entry with a _target_ (or null to leave it out), got {value!r}"
            )


# --- other libraries' constructors -----------------------------------------------------------------------
def _metric_name(value) -> bool:
    return isinstance(value, str) and re.fullmatch(r"(train|val)/[\w/-]+", value) is not None


def _file_name(value) -> bool:
    return (
        isinstance(value, str) and value.strip() not in ("", ".", "..") and "/" not in re.sub(r"\{[^}]*\}", "", value)
    )


def _devices(value) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return value == -1 or 1 <= value <= 1024
    return value == "auto" or (isinstance(value, (list, str)) and bool(value))


def _betas(value) -> bool:
    return isinstance(value, (list, tuple)) and len(value) == 2 and all(is_number(b) and 0 <= b < 1 for b in value)


def _batches(value) -> bool:
    if isinstance(value, bool):
        return False
    return (isinstance(value, int) and value >= 1) or (isinstance(value, float) and 0 < value <= 1)


POSITIVE = Range(0, low_open=True)
# An optimiser multiplies float32 tensors by its numbers: beyond the largest float32 they overflow inside torch.
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32 = Range(high=FLOAT32_MAX, note="the largest float32")
PATH = Rule(lambda v: isinstance(v, str) and v.strip() != "", "a path (a non-empty string)")
EPOCHS = Rule(lambda v: isinstance(v, int) and not isinstance(v, bool) and (v == -1 or 1 <= v <= 10**7),
             "an integer >= 1, or -1 for no limit")  # fmt: skip
BATCHES = Rule(_batches, "a number of batches >= 1 or a fraction in (0, 1]; 0 would skip the work and report an "
                         "untrained net")  # fmt: skip
MONITOR = Rule(_metric_name, "a metric the learner logs, such as val/loss or val/acc")
THIRD_PARTY = {  # qualified class name -> option -> rules
    "lightning.pytorch.trainer.trainer.Trainer": {
        "max_epochs": [EPOCHS],
        "max_steps": [
            Rule(
                lambda v: isinstance(v, int) and not isinstance(v, bool) and (v == -1 or 1 <= v <= 10**9),
                "an integer >= 1, or -1 for no limit",
            )
        ],  # fmt: skip
        "min_epochs": [Range(0, 10**7)],
        "devices": [Rule(_devices, "an integer >= 1, -1 for all, or auto")],
        "num_nodes": [Range(1, 10**5)],
        "log_every_n_steps": [Range(1, 10**7)],
        "accumulate_grad_batches": [Range(1, 10**7)],
        "check_val_every_n_epoch": [Range(1, 10**7)],
        "num_sanity_val_steps": [Range(0, 10**7, also=(-1,))],
        "gradient_clip_val": [Range(0)],
        "default_root_dir": [PATH],
        **{f"limit_{split}_batches": [BATCHES] for split in ("train", "val", "test")},
    },
    "torch.optim.optimizer.Optimizer": {
        "lr": [POSITIVE, FLOAT32],
        "momentum": [Range(0), FLOAT32],
        "weight_decay": [Range(0), FLOAT32],
        "eps": [POSITIVE, FLOAT32],
        "betas": [
            Rule(
                lambda v: isinstance(v, (list, tuple)) and len(v) == 2 and all(is_number(b) and 0 <= b < 1 for b in v),
                "two numbers in [0, 1), e.g. [0.9, 0.999]",
            )
        ],  # fmt: skip
    },
    "torch.optim.lr_scheduler.CosineAnnealingLR": {"T_max": [Range(1, 10**9)], "eta_min": [Range(0)]},
    "torch.optim.lr_scheduler.MultiStepLR": {"milestones": [Range(0, 10**9)], "gamma": [Range(0)]},
    "torch.optim.lr_scheduler.ReduceLROnPlateau": {
        "factor": [Range(0, 1, low_open=True, high_open=True)],
        "patience": [Range(0, 10**7)],
        "threshold": [Range(0)],
        "mode": [Rule(lambda v: v in ("min", "max"), "min or max")],
    },
    "lightning.pytorch.callbacks.model_checkpoint.ModelCheckpoint": {
        "dirpath": [PATH],
        "filename": [Rule(_file_name, "a file name without '/' (the folder is callbacks.model_checkpoint.dirpath)")],
        "monitor": [MONITOR],
        "save_top_k": [Range(-1, 10**7, note="-1 keeps every checkpoint")],
    },
    "lightning.pytorch.callbacks.early_stopping.EarlyStopping": {
        "monitor": [MONITOR],
        "patience": [Range(0, 10**7)],
        "min_delta": [Range(0)],
    },
    "lightning.pytorch.callbacks.progress.rich_progress.RichProgressBar": {"refresh_rate": [Range(0, 10**7)]},
    "lightning.pytorch.loggers.csv_logs.CSVLogger": {"save_dir": [PATH], "flush_logs_every_n_steps": [Range(1, 10**7)]},
    "lightning.pytorch.loggers.tensorboard.TensorBoardLogger": {"save_dir": [PATH]},
}


def third_party_rules(owner) -> dict[str, list]:
    """The THIRD_PARTY rules of a class and the classes it derives from (nearest first)."""
    found: dict[str, list] = {}
    for cls in reversed(getattr(owner, "__mro__", ())):
        found |= THIRD_PARTY.get(f"{cls.__module__}.{cls.__qualname__}", {})
    return found


def check_rules_across(owners: list, values: dict, prefix: str) -> None:
    """Rules between two options of one constructor (Lightning's Trainer is the one that has them)."""
    if not any(getattr(o, "__name__", "") == "Trainer" and "lightning" in getattr(o, "__module__", "") for o in owners):
        return
    epochs, every, least = (values.get(k) for k in ("max_epochs", "check_val_every_n_epoch", "min_epochs"))
    is_int = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
    if is_int(epochs) and epochs > 0 and is_int(every) and every > epochs:
        raise UserError(
            f"{prefix}.check_val_every_n_epoch={every} is more than {prefix}.max_epochs={epochs}: no epoch would be "
            f"validated, so no checkpoint would be kept and nothing tested; use a value <= {epochs}"
        )
    if is_int(least) and is_int(epochs) and epochs > 0 and least > epochs:
        raise UserError(f"{prefix}.min_epochs={least} is more than {prefix}.max_epochs={epochs}")
