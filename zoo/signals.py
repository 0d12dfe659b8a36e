"""Ctrl-C and SIGTERM end a command in every phase with one line that says what was kept, and 130 / 143.

`interruptible(hint)` holds for a whole command (a training run, an evaluation, a section): a signal
raises `Interrupted("<signal>: <hint>")` where the program is. During the fit a signal is only noted
(`start_deferring()`): zoo.callbacks.CheckpointOnSigterm saves the step it stopped at and raises it there, so
no checkpoint is cut in half. A second Ctrl-C while deferred stops at once. Lightning's own handling
(SIGTERM in a test ended the process with status 0) never sees these signals.
"""

from __future__ import annotations

import contextlib
import signal
import threading

from zoo.errors import Interrupted, interruption

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _State:
    hint = "nothing was written"
    deferring = False
    requested: signal.Signals | None = None
    installed = 0  # nesting depth of interruptible()


state = _State()


def name(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def _handle(signum, frame) -> None:
    if state.deferring and state.requested is None:
        state.requested = signal.Signals(signum)
        return
    state.deferring = False
    raise Interrupted(f"{name(signum)}: {state.hint}", status=128 + signum)


def set_hint(hint: str) -> None:
    """What the interruption line says was kept and how to go on, from now on."""
    state.hint = hint


@contextlib.contextmanager
def interruptible(hint: str):
    """Signals raise Interrupted for the duration (in the main thread; elsewhere they keep their handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous_hint, previous = state.hint, {sig: signal.getsignal(sig) for sig in SIGNALS}
    state.hint = hint
    state.installed += 1
    for sig in SIGNALS:
        signal.signal(sig, _handle)
    try:
        yield
    except SystemExit:  # already a way out (its context may hold the interruption it says)
        raise
    except BaseException as err:  # the signal's own, not what a library made of it (zoo.errors.interruption)
        if interruption(err) is None:
            raise
        raise interruption(err) from None
    finally:
        state.installed -= 1
        state.hint = previous_hint
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def start_deferring():
    """From now on a signal is only noted in `state.requested`, for the caller to act on at a safe point
    (and a second Ctrl-C stops at once); returns the function that ends this. The handler replaces any
    other for the time (Lightning's would end the process with its own exit)."""
    main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS} if main else {}
    for sig in previous:
        signal.signal(sig, _handle)
    state.deferring, state.requested = True, None

    def stop() -> None:
        state.deferring = False
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        previous.clear()

    return stop
