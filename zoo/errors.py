"""User mistakes become one sentence on stderr and a non-zero exit, not a traceback."""

import contextlib
import os
import sys


class UserError(Exception):
    """Something the user asked for cannot work; the message says what would."""


class Interrupted(Exception):
    """The run was stopped (Ctrl-C, SIGTERM); the message says what was kept and how to continue."""

    def __init__(self, message: str, status: int = 130):
        super().__init__(message)
        self.status = status  # 128 + the signal's number, what a shell reports for a command it stopped


EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C

# The sentence of the job that just failed inside a sweep, for the sweep's summary (zoo.hydra_callbacks).
failed_job: dict = {}


def _in_sweep() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@contextlib.contextmanager
def reported_as_sentences():
    """Print a UserError as `error: <sentence>` and exit 2; HYDRA_FULL_ERROR=1 shows the traceback.

    Inside a sweep (-m) the job's sentence is printed and kept for the sweep's summary, and the sweep
    goes on with its next job. Ctrl-C ends with exit status 130 and no traceback.
    """
    failed_job.clear()
    try:
        yield
    except UserError as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        if _in_sweep():
            from hydra.core.hydra_config import HydraConfig

            job = HydraConfig.get().job
            failed_job.update(error=str(err))
            print(f"error: job {job.num} ({job.override_dirname or 'no overrides'}): {err}", file=sys.stderr)
            return
        print(f"error: {err}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    except (Interrupted, KeyboardInterrupt) as err:
        print(f"interrupted: {err}" if str(err) else "interrupted", file=sys.stderr)
        sys.exit(getattr(err, "status", EXIT_INTERRUPTED))
