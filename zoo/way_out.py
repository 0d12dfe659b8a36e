"""The one way out of every command (train.py, evaluate.py, zoo-*, python -m zoo, python -m sections).

A mistake in what was asked is `error: <sentence>` and exit 2; an interruption is `interrupted: <what
was kept and how to go on>` and 130 / 143; anything else is a fault of the zoo, said in one line that
names the log holding its traceback, exit 3. Hydra's own refusals of a command line (a mistyped key, an
unknown preset) are sentences too. HYDRA_FULL_ERROR=1 shows the tracebacks instead.
"""

from __future__ import annotations

import contextlib
import os
import sys

import hydra

from zoo import signals
from zoo.composing import hydra_sentence
from zoo.errors import (
    EXIT_INTERNAL_ERROR,
    EXIT_USER_ERROR,
    InternalError,
    Interrupted,
    Refusal,
    UserError,
    interruption,
)
from zoo.run_folder import internal_error

TRACEBACKS = "ZOO_TRACEBACKS"  # the user's HYDRA_FULL_ERROR=1, kept while Hydra is told to pass errors on


def tracebacks() -> bool:
    return os.environ.get(TRACEBACKS) == "1"


def raised_by_hydra(err: BaseException) -> bool:
    """Hydra refused the command line with a plain exception (a ValueError while composing, say): the innermost
    frame is Hydra's own."""
    frame = err.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return (
        frame is not None
        and f"{os.sep}hydra{os.sep}" in frame.tb_frame.f_code.co_filename
        and not isinstance(err, (UserError, Interrupted, KeyboardInterrupt))
    )


def say(err: BaseException, prefix: str = "") -> int:
    """Print what ended the command (one line) and return its exit status."""
    if isinstance(err, Refusal):
        print(f"error: {prefix}{err.sentence}", file=sys.stderr)
        return EXIT_USER_ERROR
    if isinstance(err, UserError):
        print(f"error: {prefix}{err}", file=sys.stderr)
        return EXIT_USER_ERROR
    if isinstance(err, (Interrupted, KeyboardInterrupt)):
        print(f"interrupted: {prefix}{err or 'Ctrl-C'}", file=sys.stderr)
        return getattr(err, "status", 130)
    error = err if isinstance(err, InternalError) else internal_error(err)
    print(f"internal error: {prefix}{error}", file=sys.stderr)
    return EXIT_INTERNAL_ERROR


@contextlib.contextmanager
def way_out(hint: str = "nothing was written; run the command again", overrides=(), config_name: str = "train"):
    """The one way out of a command (see the module's docstring); Hydra's exceptions reach it as they are."""
    os.environ.setdefault(TRACEBACKS, "1" if os.environ.get("HYDRA_FULL_ERROR") == "1" else "0")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra passes its exceptions on instead of printing them
    try:
        with signals.interruptible(hint):
            yield
    except Refusal as err:
        sys.exit(say(err))
    except SystemExit:
        raise
    except BaseException as err:
        if tracebacks():
            raise
        err = interruption(err) or err
        if (
            isinstance(err, hydra.errors.HydraException)
            or type(err).__module__.startswith("omegaconf")
            or (raised_by_hydra(err))
        ):
            err = UserError(hydra_sentence(err, list(overrides), config_name))
        sys.exit(say(err))
