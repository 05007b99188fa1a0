"""Downloads of the official dataset files, one way for CIFAR archives and MNIST files: ``keras.utils.get_file``
with the file's checksum, a time limit on a silent server and on one that trickles bytes, and this call's own
partial or unverified file removed on any failure (a file the user put there is never touched)."""

from __future__ import annotations

import contextlib
import hashlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import UserError

DOWNLOAD_TIMEOUT_S = 60.0  # seconds without an answer from the server
STALL_WINDOW_S, STALL_MIN_BYTES, STALL_CHECK_S = 120.0, 64 * 1024, 10.0  # a download slower than this has stalled
# Set to a base URL (or file:// folder) holding the files to download from a mirror instead of the official site.
ORIGIN_ENV = "QUANT_SNN_DATA_ORIGIN"


def md5_of(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "md5").hexdigest()


@contextlib.contextmanager
def stall_watchdog(target: Path) -> Iterator[None]:
    """Abort a download whose file grows by less than STALL_MIN_BYTES in STALL_WINDOW_S seconds (a server that
    sends a byte now and then never trips the per-read socket timeout). Main thread on POSIX only (SIGALRM)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    sizes: list[tuple[float, int]] = []

    def check(signum, frame) -> None:
        now, size = time.monotonic(), target.stat().st_size if target.exists() else 0
        sizes.append((now, size))
        old = [(t, n) for t, n in sizes if now - t >= STALL_WINDOW_S]
        if old and size - old[-1][1] < STALL_MIN_BYTES:
            raise TimeoutError(f"the download stalled: {size - old[-1][1]} bytes in the last {STALL_WINDOW_S:g} s")

    previous = signal.signal(signal.SIGALRM, check)
    signal.setitimer(signal.ITIMER_REAL, STALL_CHECK_S, STALL_CHECK_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def fetch(url: str, target: Path, md5: str, remedy: str) -> Path:
    """Download ``url`` to ``target`` and check its md5; on any failure this call's own file is removed and one
    :class:`UserError` says what happened and ``remedy``. The folder is made, and proved writable, first (a
    read-only ``--data_dir`` is one line, not Keras's chained tracebacks)."""
    import keras  # only needed when downloading

    from .atomic import writable_folder

    try:
        writable_folder(target.parent, "data folder")
    except UserError as exc:
        raise UserError(f"{exc}: cannot download {target.name} into it; {remedy}") from None

    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # a server that never answers ends in one error, not a hang
    try:
        with stall_watchdog(target):
            keras.utils.get_file(fname=target.name, origin=url, file_hash=md5, cache_dir=str(target.parent.resolve()),
                                 cache_subdir="", extract=False)
    except BaseException as exc:
        target.unlink(missing_ok=True)  # this call's own partial or unverified download
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise UserError(f"could not download {target.name} from {url} ({type(exc).__name__}: {exc}); {remedy}") \
            from None
    finally:
        socket.setdefaulttimeout(previous_timeout)
    return target
