"""Full training state in one npz, replaced atomically after every epoch.

Holds every model variable (the augmentation's RNG state included), every optimizer variable, the number of
finished epochs, the run's configuration and its history. One file written by rename means a killed run loses
at most the epoch in progress. Plain numpy, so the format is the same on every Keras backend. A checkpoint is read
without pickles and within stated sizes (a CIFAR VGG checkpoint is about 61 MB), and its record is checked before
training starts, so an edited file fails in one line, not after an epoch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np

from .atomic import atomic_savez
from .errors import UserError
from .safe_npz import load_safe_npz
from .seeding import MAX_EPOCHS

HISTORY_FIELDS = ("epoch", "learning_rate", "loss", "accuracy", "test_loss", "test_accuracy", "seconds")
MAX_CHECKPOINT_BYTES = 1 << 30  # all members unpacked together: 16x a CIFAR VGG checkpoint
MAX_STATE_BYTES = 16 << 20  # the JSON record (4 bytes a character): 400 epochs of history take about 0.3 MB


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
                        "move it away to start anew")
    if not isinstance(state.get("config", {}), dict) or not _valid_history(state.get("history", []), epoch):
        raise UserError(f"checkpoint {path} has a malformed config or history record; it cannot be resumed: "
                        "move it away to start anew")
    return state


def _valid_history(history, epochs: int) -> bool:
    """One row per finished epoch, numbered 1..epochs, each a record of numbers (the CSV history's fields)."""
    def number(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    return isinstance(history, list) and len(history) == epochs and all(
        isinstance(row, dict) and all(number(v) for v in row.values())
        and row["epoch"] == i + 1
        for i, row in enumerate(history)
    )


def _read(path: Path, state_only: bool = False) -> tuple[dict, list[np.ndarray], list[np.ndarray]]:
    """The state record and the model and optimizer arrays (in order), or one error line."""
    try:
        state_member = load_safe_npz(path, keys=("state",), object_keys=(), max_bytes=MAX_STATE_BYTES)
        state = json.loads(str(state_member["state"][()]))
        arrays = {} if state_only else load_safe_npz(path, object_keys=(), max_total_bytes=MAX_CHECKPOINT_BYTES)
    except Exception as exc:
        raise UserError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc})") from None
    model_arrays = [arrays[key] for key in sorted(k for k in arrays if k.startswith("model_"))]
    optimizer_arrays = [arrays[key] for key in sorted(k for k in arrays if k.startswith("optimizer_"))]
    return _valid_state(state, path), model_arrays, optimizer_arrays


def load_checkpoint(path: str | os.PathLike, model, optimizer) -> dict:
    """Restore model and optimizer state in place; returns ``{"epoch", "config", "history"}``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no checkpoint {path} to resume from: start a new run instead of resuming")
    state, model_arrays, optimizer_arrays = _read(path)
    _assign_all(model.variables, model_arrays, "model", path)
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    _assign_all(optimizer.variables, optimizer_arrays, "optimizer", path)
    return state


def checkpoint_state(path: str | os.PathLike) -> dict:
    """The ``{"epoch", "config", "history"}`` record of a checkpoint, without loading its arrays."""
    return _read(Path(path), state_only=True)[0]


def checkpoint_epoch(path: str | os.PathLike) -> int:
    """Finished epochs recorded in a checkpoint (0 when there is none)."""
    path = Path(path)
    if not path.is_file():
        return 0
    return checkpoint_state(path)["epoch"]
