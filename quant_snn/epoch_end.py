"""What happens after every training epoch: the npz's own weights are tested, then the weights npz, the CSV history
and the checkpoint are written, each replaced atomically, the checkpoint last (resume and reproduce read it as the
epochs done)."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Protocol

import keras
import numpy as np

from .atomic import atomic_write_text
from .checkpoint import HISTORY_FIELDS, save_checkpoint
from .precision import full_float32
from .quant_config import QuantConfig
from .weights import assign_params, model_params, save_npz


class RunFilesAndRecord(Protocol):
    """What an epoch's end needs of a run (``train.RunConfig`` provides it): where its files go and what they
    record."""

    dataset: str
    quant: QuantConfig
    npz_path: Path
    history_path: Path
    checkpoint_path: Path

    def training(self) -> dict: ...

    def describe(self) -> dict: ...




def write_history_csv(path: Path, history: list[dict]) -> None:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, text.getvalue())


class NpzTest:
    """Test loss and accuracy of exactly what the npz holds: the ternary kernels and batch-norm statistics, in a
    float32 twin of the training model. So the history's test accuracy is what ``--mode inference`` and the
    spiking network start from, even where a weight sits on the ternary threshold (the training graph and an
    eager call may then round the threshold's mean differently) or training ran in mixed precision."""

    def __init__(self, twin: keras.Model, twin_core: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int):
        self.twin, self.twin_core, self.x, self.y, self.batch_size = twin, twin_core, x, y, batch_size

    def __call__(self, params: list[np.ndarray]) -> tuple[float, float]:
        assign_params(self.twin_core, params)
        with full_float32():  # TF32 (a GPU's default) would move values across quantization steps
            loss, accuracy = self.twin.evaluate(self.x, self.y, batch_size=self.batch_size, verbose=0,
                                                return_dict=False)
        return float(loss), float(accuracy)


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: test the npz's weights, then write weights npz, CSV history and checkpoint, each
    replaced atomically, the checkpoint last."""

    def __init__(self, cfg: RunFilesAndRecord, core: keras.Model, history: list[dict], test: NpzTest):
        super().__init__()
        self.cfg = cfg
        self.core = core
        self.history = history
        self.test = test
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        params = model_params(self.core)
        test_loss, test_accuracy = self.test(params)
        row = {
            "epoch": epoch + 1,
            "learning_rate": float(f"{float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)):.6g}"),
            "loss": float(logs.get("loss", np.nan)),
            "accuracy": float(logs.get("accuracy", np.nan)),
            "test_loss": test_loss,
            "test_accuracy": test_accuracy,
            "seconds": round(time.perf_counter() - self._start, 2),
        }
        self.history.append(row)
        cfg = self.cfg
        # The checkpoint is written last: it is what resume and reproduce read as "epochs done", so a kill between
        # the files leaves npz and history one epoch ahead (redone on resume), never a checkpoint ahead of them.
        save_npz(
            cfg.npz_path, self.core, dataset=cfg.dataset, quant=cfg.quant, epochs=epoch + 1,
            test_accuracy=row["test_accuracy"], params=params,  # the very arrays just tested
            training=cfg.training(),
        )
        write_history_csv(cfg.history_path, self.history)
        save_checkpoint(
            cfg.checkpoint_path, self.model, self.model.optimizer, epoch=epoch + 1, config=cfg.describe(),
            history=self.history,
        )
        print(
            f"epoch {epoch + 1}: train accuracy {row['accuracy']:.4f}, test accuracy {row['test_accuracy']:.4f} "
            f"({row['seconds']:.0f} s); saved {cfg.npz_path}",
            flush=True,
        )
