"""User mistakes become one sentence on stderr and a non-zero exit, not a traceback."""

import contextlib
import os
import sys


class UserError(Exception):
    """Something the user asked for cannot work; the message says what would."""


EXIT_USER_ERROR = 2


@contextlib.contextmanager
def reported_as_sentences():
    """Print a UserError as `error: <sentence>` and exit 2. HYDRA_FULL_ERROR=1 shows the traceback."""
    try:
        yield
    except UserError as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
