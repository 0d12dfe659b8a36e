"""Every file the zoo writes is written whole: into a temporary file beside it, then renamed into place.

A reader (another run, zoo.compare, a resume) sees the old file or the new one, never half of one; a
write that fails (a full disk, a kill) leaves the old file and removes its temporary one.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from zoo.errors import UserError


def mount_point(path: Path) -> str:
    """The file system a path is on, by where it is mounted (what `df` calls it)."""
    path = Path(os.path.abspath(path))
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return str(path)


def no_space(path: Path, kept: str = "") -> UserError:
    """The sentence for a write that found the disk full."""
    return UserError(
        f"no space left on {mount_point(path.parent)} while writing {path}; "
        f"{kept or 'nothing was left half-written'}; free some space and run again"
    )


def partial_path(path: Path | str) -> Path:
    """The temporary file a whole write goes through (hidden, beside its target)."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


def failed(partial: Path, err: BaseException, path: Path, kept: str = "") -> BaseException:
    """After a write into `partial` failed: remove it, and say a full disk in one sentence."""
    with contextlib.suppress(OSError):
        os.remove(partial)
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return no_space(Path(path), kept)
    return err


@contextlib.contextmanager
def whole(path: Path | str, kept: str = ""):
    """Yield a temporary path beside `path` to write to; at the end it replaces `path` in one rename.

    `kept` says what is still whole when the write fails (e.g. the last whole checkpoint).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    try:
        yield partial
        os.replace(partial, path)
    except BaseException as err:
        raised = failed(partial, err, path, kept)
        if raised is err:
            raise
        raise raised from err


def write_whole(path: Path | str, content: str | bytes) -> Path:
    """Write text or bytes to `path` whole."""
    with whole(path) as partial:
        if isinstance(content, bytes):
            partial.write_bytes(content)
        else:
            partial.write_text(content)
    return Path(path)
