"""The Keras backend named by ``KERAS_BACKEND``, checked before Keras is imported: Keras itself answers an unknown or
uninstalled one with a traceback from deep inside its import."""

from __future__ import annotations

import importlib.util
import os
import sys

BACKENDS = ("tensorflow", "jax", "torch")  # the backends this project runs on (numpy and openvino cannot train)


def check_keras_backend() -> None:
    """Exit with one ``error:`` line (status 2) when ``KERAS_BACKEND`` names no usable, installed backend."""
    name = os.environ.get("KERAS_BACKEND")
    if name is None:
        return
    installed = [b for b in BACKENDS if importlib.util.find_spec(b) is not None]
    if name not in installed:
        why = "is not installed" if name in BACKENDS else "is not a backend this project runs on"
        sys.stderr.write(f"error: KERAS_BACKEND={name} {why}: use one of {', '.join(installed) or 'none installed'}"
                         f" (e.g. KERAS_BACKEND={installed[0] if installed else 'tensorflow'})\n")
        raise SystemExit(2)
