"""Keep TensorFlow's start-up chatter off the terminal of the scripts.

TensorFlow 2.21 writes 4-5 native log lines at import and at its first operation (absl's "before InitializeLog"
warning, oneDNN and CPU-feature notes, an ``E0000 ... DT_INT64`` line that is not an error; later a "retracing"
warning when a run compiles several networks, as the spiking runs of several noise ratios do) before
``TF_CPP_MIN_LOG_LEVEL`` takes effect, so the environment variable alone cannot silence them. The scripts therefore
route file descriptor 2 through a filter that drops exactly those lines and passes everything else. A user who
sets ``TF_CPP_MIN_LOG_LEVEL`` themselves gets TensorFlow's own behaviour, unfiltered.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|[IWE]\d{4} [0-9:. ]+\d+ (port\.cc|cpu_feature_guard\.cc|util\.cc)[^\n]*"
    rb"|To enable the following instructions:[^\n]*rebuild TensorFlow with the appropriate compiler flags\."
    # a new network compiled for each spiking run (noise ratios, several configurations) is traced anew, as meant
    rb"|WARNING:tensorflow:\d+ out of the last \d+ calls to <function [^\n]* triggered tf\.function retracing\.[^\n]*)"
    rb"\s*$"
)


def is_noise(line: bytes) -> bool:
    return NOISE.match(line) is not None


def quiet_native_logs() -> bool:
    """Filter fd 2 for the rest of the process; returns False (and does nothing) where the user set
    ``TF_CPP_MIN_LOG_LEVEL`` or a filter is already in place."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ or getattr(quiet_native_logs, "installed", False):
        return False
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # what TensorFlow itself can quiet, it quiets
    sys.stderr.flush()
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb", buffering=0) as source:
            pending = b""
            while chunk := source.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if not is_noise(line):
                        os.write(original, line + b"\n")
            if pending and not is_noise(pending):
                os.write(original, pending)

    thread = threading.Thread(target=pump, name="quiet-native-logs", daemon=True)
    thread.start()

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(original, 2)  # closes the pipe's last write end: the pump sees the end and drains
        thread.join(timeout=5)

    atexit.register(restore)
    quiet_native_logs.installed = True
    return True
