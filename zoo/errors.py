"""What ends a command early: a user's mistake (one sentence, exit 2), an interruption (130 / 143, with what
was kept), or a fault of the zoo itself (one line naming the log that holds its traceback, exit 3)."""

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C


class UserError(Exception):
    """Something the user asked for cannot work; the message says what would."""


class Interrupted(Exception):
    """The command was stopped (Ctrl-C, SIGTERM); the message says what was kept and how to continue."""

    def __init__(self, message: str, status: int = EXIT_INTERRUPTED):
        super().__init__(message)
        self.status = status  # 128 + the signal's number, what a shell reports for a command it stopped


class InternalError(Exception):
    """A fault of the zoo (not of what was asked): the message names the log file with the traceback."""


class Refusal(SystemExit):
    """A UserError where only an exit gets through (Hydra turns other exceptions of its callbacks into
    warnings): the command's way out prints `error: <sentence>` and exits 2."""

    def __init__(self, sentence: str):
        super().__init__(EXIT_USER_ERROR)
        self.sentence = sentence


def interruption(err: BaseException) -> Interrupted | None:
    """The interruption inside an exception a library wrapped around it, if there is one: Hydra wraps what a
    constructor raises, and OmegaConf raises a copy with its key appended, so the innermost is the signal's own."""
    found, seen = None, set()
    while err is not None and id(err) not in seen:
        if isinstance(err, Interrupted):
            found = err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return found
