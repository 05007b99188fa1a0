"""One training run per set of output files: an exclusive lock held for the whole run.

Two runs of the same dataset and configuration in the same ``--output_dir`` would write the same npz, checkpoint
and history; the second one stops at once with one error line instead. Runs of other configurations in the same
folder (``CIFAR10/`` holds all of them by default) are not held up. The lock is ``flock`` on
``.{stem}.lock``: the operating system releases it when the process ends in any way, so a killed run never
leaves a stale lock. The lock file is opened without following a symbolic link. Where ``fcntl`` does not exist
(Windows) runs are not locked.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from .errors import UserError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None


def lock_path(folder: Path, stem: str) -> Path:
    return Path(folder) / f".{stem}.lock"


@contextlib.contextmanager
def exclusive_run(folder: Path, stem: str) -> Iterator[None]:
    """Hold the lock of ``folder``'s ``stem`` files while the body runs; refuse in one line if another run has it."""
    if fcntl is None:
        yield
        return
    path = lock_path(folder, stem)
    try:  # never through a symbolic link: its target would be truncated and overwritten by the pid
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        raise UserError(f"cannot open the lock file {path} ({exc.strerror or exc}); if it is a symbolic link or "
                        "not a plain file, remove it") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UserError(f"the lock file {path} is not a plain file; remove it")
    handle = os.fdopen(fd, "r+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            raise UserError(f"another run (pid {owner}) is writing {Path(folder) / stem}.npz and its checkpoint and "
                            "history; wait for it to finish or choose another --output_dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()
