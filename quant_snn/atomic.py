"""One way to write a result file: to a uniquely named temporary file beside it, then one rename.

A killed run never leaves half a file, two runs writing the same name never share a temporary file, and a full
disk ends in one error line with the temporary file removed (so the disk is not left fuller than before).
"""

from __future__ import annotations

import errno
import glob
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import UserError


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a binary file that becomes ``path`` only once it is complete and on disk."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UserError(f"cannot write {path} ({exc.strerror or exc})") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would stay with the result: use what open() would give
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise UserError(f"no space left to write {path} ({exc.strerror}); free some and run again "
                            "(finished results are kept)") from None
        if isinstance(exc, OSError):  # e.g. a folder where the file should go
            raise UserError(f"cannot write {path} ({exc.strerror or exc})") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def remove_stale_temporaries(paths: tuple[str | os.PathLike, ...]) -> list[Path]:
    """Delete the temporary files that :func:`atomic_write` left beside ``paths`` when a run was killed (call it
    only while no other process can be writing them, e.g. under the run's lock); returns what it deleted."""
    removed = []
    for path in map(Path, paths):
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            stale.unlink(missing_ok=True)
            removed.append(stale)
    return removed


def writable_folder(folder: str | os.PathLike, what: str = "output folder") -> Path:
    """Create ``folder`` if needed and prove that a file can be made in it, before any work whose results would go
    there: a folder that cannot take them is one error line at the start, not a traceback at the end."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UserError(f"{what} {folder} cannot be written ({exc.strerror or exc})") from None
    return folder


def check_replaceable(paths: tuple[str | os.PathLike, ...]) -> None:
    """Before the work: each of ``paths`` is absent or a plain file that a finished result may replace."""
    for path in map(Path, paths):
        if (path.exists() or path.is_symlink()) and not path.is_file():
            raise UserError(f"{path} is in the way of a result file (not a plain file): move it away")


def check_new_file(path: str | os.PathLike, *, overwrite: bool, inputs: tuple[str | os.PathLike, ...] = ()) -> Path:
    """Before the work: ``path`` may be written. Never one of the run's ``inputs`` nor anything but a plain file
    (even with ``overwrite``: ``/dev/null`` stays a device); an existing file only with ``overwrite``
    (``--overwrite True``); its folder must take a new file."""
    path = Path(path)
    for source in inputs:
        if path.exists() and Path(source).exists() and path.samefile(source):
            raise UserError(f"{path} is this run's input ({source}): choose another output file")
    if path.is_dir():
        raise UserError(f"{path} is a folder: name the file to write")
    if (path.exists() or path.is_symlink()) and not path.is_file():  # a FIFO, a device, a dangling link
        raise UserError(f"{path} is not a plain file: it is never replaced, even with --overwrite True")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise UserError(f"{path} exists: choose another file name, or replace it with --overwrite True")
    writable_folder(path.parent, "folder")
    return path


def atomic_write_folder(folder: str | os.PathLike, files: dict[str, bytes]) -> None:
    """Make ``files`` (name -> content) the content of ``folder``, whole or not at all: they are written into a
    temporary folder beside it, which then takes the folder's place by rename (entries of the old folder with other
    names move along). A full disk or a kill leaves the old folder as it was, or, between the two renames, no folder
    (a run not done) and a hidden ``.<name>.*.tmp`` one: never old and new files mixed."""
    folder = Path(folder)
    writable_folder(folder.parent, "folder")
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    moved: list[str] = []
    old = None
    try:
        os.chmod(staging, 0o777 & ~_umask())
        for name, data in files.items():
            atomic_write(staging / name, lambda f, data=data: f.write(data))
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.name not in files:
                    os.replace(entry, staging / entry.name)
                    moved.append(entry.name)
            old = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".old.tmp"))
            os.replace(folder, old)
        os.replace(staging, folder)
    except BaseException as exc:
        if old is not None and not folder.exists():
            os.replace(old, folder)
            old = None
        for name in moved:  # the old folder's other entries go back where they were
            os.replace(staging / name, folder / name)
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise UserError(f"cannot write {folder} ({exc.strerror or exc})") from None
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_savez(path: str | os.PathLike, **arrays) -> None:
    """Write an npz next to ``path`` and rename it into place, so a crash never leaves half a file."""
    atomic_write(path, lambda f: np.savez(f, **arrays))
