"""Full training state in one npz, replaced atomically after every epoch.

Holds every model variable (the augmentation's RNG state included), every optimizer variable, the number of
finished epochs, the run's configuration and its history. One file written by rename means a killed run loses
at most the epoch in progress. Plain numpy, so the format is the same on every Keras backend.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np

from .atomic import atomic_savez
from .errors import UserError
from .seeding import MAX_EPOCHS


def save_checkpoint(path: str | os.PathLike, model, optimizer, *, epoch: int, config: dict,
                    history: list[dict]) -> None:
    arrays = {f"model_{i:04d}": keras.ops.convert_to_numpy(v) for i, v in enumerate(model.variables)}
    arrays.update({f"optimizer_{i:04d}": keras.ops.convert_to_numpy(v) for i, v in enumerate(optimizer.variables)})
    state = {"epoch": epoch, "config": config, "history": history}
    atomic_savez(path, state=np.str_(json.dumps(state)), **arrays)


def _assign_all(variables, arrays: list[np.ndarray], what: str, path: Path) -> None:
    if len(variables) != len(arrays):
        raise UserError(f"checkpoint {path} holds {len(arrays)} {what} variables, this run needs {len(variables)}")
    for variable, value in zip(variables, arrays):
        if tuple(variable.shape) != value.shape:
            raise UserError(
                f"checkpoint {path}: {what} variable {variable.path} has shape {value.shape}, "
                f"expected {tuple(variable.shape)}"
            )
        variable.assign(value)


def _valid_state(state, path: Path) -> dict:
    """The state record as training needs it, or one error line (a checkpoint edited or written by another tool)."""
    epoch = state.get("epoch") if isinstance(state, dict) else None
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch <= MAX_EPOCHS:
        raise UserError(f"checkpoint {path} records no valid epoch count ({epoch!r}); it cannot be resumed: "
                        "start anew with --resume False --overwrite True")
    if not isinstance(state.get("config", {}), dict) or not isinstance(state.get("history", []), list):
        raise UserError(f"checkpoint {path} has a malformed config or history record; it cannot be resumed")
    return state


def load_checkpoint(path: str | os.PathLike, model, optimizer) -> dict:
    """Restore model and optimizer state in place; returns ``{"epoch", "config", "history"}``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no checkpoint {path} to resume from: train with --resume False first")
    try:
        with np.load(path) as f:
            state = json.loads(str(f["state"][()]))
            model_arrays = [f[key] for key in sorted(k for k in f.files if k.startswith("model_"))]
            optimizer_arrays = [f[key] for key in sorted(k for k in f.files if k.startswith("optimizer_"))]
    except Exception as exc:
        raise UserError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc})") from None
    state = _valid_state(state, path)
    _assign_all(model.variables, model_arrays, "model", path)
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    _assign_all(optimizer.variables, optimizer_arrays, "optimizer", path)
    return state


def checkpoint_state(path: str | os.PathLike) -> dict:
    """The ``{"epoch", "config", "history"}`` record of a checkpoint, without loading its arrays."""
    path = Path(path)
    try:
        with np.load(path) as f:
            state = json.loads(str(f["state"][()]))
    except Exception as exc:
        raise UserError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc})") from None
    return _valid_state(state, path)


def checkpoint_epoch(path: str | os.PathLike) -> int:
    """Finished epochs recorded in a checkpoint (0 when there is none)."""
    path = Path(path)
    if not path.is_file():
        return 0
    return checkpoint_state(path)["epoch"]
