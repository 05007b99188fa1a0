"""Optimizer and loss choices (``--optimizer``, ``--weight_decay``, ``--label_smoothing``).

The defaults (Adam, no weight decay, no smoothing) build exactly the original's optimizer and loss.
"""

from __future__ import annotations

import keras
from keras import ops

from .errors import UserError
from .recipes import OPTIMIZERS

SGD_MOMENTUM = 0.9


def check_optimizer(name: str, weight_decay: float, label_smoothing: float) -> None:
    if name not in OPTIMIZERS:
        raise UserError(f"unknown --optimizer {name!r}: use one of {', '.join(OPTIMIZERS)}")
    if not weight_decay >= 0:
        raise UserError(f"--weight_decay must be 0 or more, got {weight_decay}")
    if not 0 <= label_smoothing < 1:
        raise UserError(f"--label_smoothing must be in [0, 1), got {label_smoothing}")


def make_optimizer(name: str, learning_rate, weight_decay: float = 0.0) -> keras.optimizers.Optimizer:
    """Adam, or SGD with Nesterov momentum 0.9. Weight decay is decoupled (``w -= lr * weight_decay * w`` each
    step, as AdamW) and spares the batch-norm scales and offsets."""
    decay = weight_decay or None
    if name == "adam":
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate, weight_decay=decay)
    elif name == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate=learning_rate, momentum=SGD_MOMENTUM, nesterov=True,
                                         weight_decay=decay)
    else:
        raise UserError(f"unknown --optimizer {name!r}: use one of {', '.join(OPTIMIZERS)}")
    if decay:
        optimizer.exclude_from_weight_decay(var_names=["gamma", "beta"])
    return optimizer


@keras.saving.register_keras_serializable(package="quant_snn")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Softmax cross-entropy of integer labels against ``(1 - e) * onehot + e / n_classes`` (label smoothing ``e``)."""

    def __init__(self, label_smoothing: float, name: str = "smoothed_sparse_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        n_classes = ops.shape(y_pred)[-1]
        onehot = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), n_classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(onehot, y_pred, from_logits=True,
                                                     label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def make_loss(label_smoothing: float = 0.0) -> keras.losses.Loss:
    if label_smoothing:
        return SmoothedSparseCrossentropy(label_smoothing)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
