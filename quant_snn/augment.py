"""CIFAR preprocessing inside the model graph, written with ``keras.ops``/``keras.random`` for any backend.

Training: independent random 24x24 crop per image, random horizontal flip, brightness += U(-63, 63),
contrast factor U(0.2, 1.8) around the per-channel mean, then per-image standardization.
Inference: central 24x24 crop, then standardization. Inputs are pixels as floats in 0..255.
"""

from __future__ import annotations

import math

import keras
from keras import ops

CROP = 24
MAX_BRIGHTNESS_DELTA = 63.0
CONTRAST_RANGE = (0.2, 1.8)


def standardize(x):
    """Per-image standardization ``(x - mean) / max(std, 1/sqrt(N))`` with N pixels*channels per image."""
    n = math.prod(x.shape[1:])
    mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
    std = ops.sqrt(ops.mean(ops.square(x - mean), axis=(1, 2, 3), keepdims=True))
    return (x - mean) / ops.maximum(std, 1.0 / math.sqrt(n))


def central_crop(x, size: int = CROP):
    """Central ``size`` x ``size`` crop (offset ``(H - size) // 2``, as TensorFlow's crop-or-pad)."""
    top = (x.shape[1] - size) // 2
    left = (x.shape[2] - size) // 2
    return x[:, top : top + size, left : left + size, :]


def preprocess_test(images, size: int = CROP):
    """Test-time preprocessing of a batch of 0..255 pixels: central crop then standardization."""
    return standardize(central_crop(ops.cast(images, "float32"), size))


def _random_crop(x, size: int, seed):
    n = ops.shape(x)[0]
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    top = keras.random.randint((n, 1), 0, height - size + 1, seed=seed, dtype="int32")
    left = keras.random.randint((n, 1), 0, width - size + 1, seed=seed, dtype="int32")
    rows = top + ops.arange(size, dtype="int32")[None, :]
    rows = rows[:, :, None, None] + ops.zeros((1, 1, width, channels), dtype="int32")
    x = ops.take_along_axis(x, rows, axis=1)
    cols = left + ops.arange(size, dtype="int32")[None, :]
    cols = cols[:, None, :, None] + ops.zeros((1, size, 1, channels), dtype="int32")
    return ops.take_along_axis(x, cols, axis=2)


def augment(x, seed, size: int = CROP):
    """Training augmentation of 0..255 float pixels (without the final standardization)."""
    n = ops.shape(x)[0]
    x = _random_crop(x, size, seed)
    flip = keras.random.uniform((n, 1, 1, 1), seed=seed) < 0.5
    x = ops.where(flip, ops.flip(x, axis=2), x)
    x = x + keras.random.uniform((n, 1, 1, 1), -MAX_BRIGHTNESS_DELTA, MAX_BRIGHTNESS_DELTA, seed=seed)
    mean = ops.mean(x, axis=(1, 2), keepdims=True)
    factor = keras.random.uniform((n, 1, 1, 1), CONTRAST_RANGE[0], CONTRAST_RANGE[1], seed=seed)
    return (x - mean) * factor + mean


@keras.saving.register_keras_serializable(package="quant_snn")
class CifarPreprocess(keras.layers.Layer):
    """Augments (training) or centrally crops (inference), then standardizes; seeded and reproducible."""

    def __init__(self, size: int = CROP, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        x = ops.cast(inputs, "float32")
        if training:
            x = augment(x, self.seed_generator, self.size)
        else:
            x = central_crop(x, self.size)
        return standardize(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, input_shape[3])

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "seed": self.seed}
