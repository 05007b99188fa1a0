"""Preprocessing inside the model graph, written with ``keras.ops``/``keras.random`` for any backend.

``standardize`` (CIFAR): training takes an independent random 24x24 crop per image, random horizontal flip,
brightness += U(-63, 63), contrast factor U(0.2, 1.8) around the per-channel mean, then per-image standardization;
inference a central 24x24 crop, then standardization. ``unit`` (MNIST): pixels / 255, no augmentation.
Inputs are pixels as floats in 0..255. The spiking network and the ANN that checks it take their input from
``preprocess_test``, which computes it exactly from the integer pixels (``standardize_pixels``, ``unit_pixels``:
the same bits on every backend and at every batch size).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from .architecture import VGG, Architecture
from .precision import enable_float64

CROP = 24
MAX_BRIGHTNESS_DELTA = 63.0
CONTRAST_RANGE = (0.2, 1.8)


def standardize(x):
    """Per-image standardization ``(x - mean) / max(std, 1/sqrt(N))`` with N pixels*channels per image."""
    x = ops.convert_to_tensor(x)
    n = math.prod(x.shape[1:])
    mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
    std = ops.sqrt(ops.mean(ops.square(x - mean), axis=(1, 2, 3), keepdims=True))
    return (x - mean) / ops.maximum(std, 1.0 / math.sqrt(n))


def standardize_pixels(pixels):
    """Per-image standardization of integer pixels, bit-identical on every backend and at every batch size.

    With ``N`` values per image, ``S = sum(x)`` and ``Q = sum(x^2)`` (exact integer sums),

        (x - mean) / max(std, 1/sqrt(N)) = (N*x - S) / sqrt(max(N*Q - S^2, N))

    Numerator and radicand are integers below 2^53, hence exact in float64 whatever the summation order; what is
    left is one correctly rounded square root and one correctly rounded division (IEEE 754, the same everywhere),
    then the cast to float32. ``standardize`` computes the same value in float32, where each backend's reduction
    order changes the last bits (docs/DESIGN.md, "Conversion to one time step")."""
    x = ops.convert_to_tensor(pixels)
    if not keras.backend.is_int_dtype(x.dtype):
        if not bool(ops.all(ops.equal(x, ops.round(x)))):
            raise ValueError("standardize_pixels needs integer pixel values")
    x = ops.cast(x, "int32")
    n = math.prod(x.shape[1:])
    if n * 255**2 >= 2**31:
        raise ValueError(f"{n} values per image: the int32 sum of squares could overflow")
    enable_float64()
    total = ops.cast(ops.sum(x, axis=(1, 2, 3), keepdims=True), "float64")
    squares = ops.cast(ops.sum(x * x, axis=(1, 2, 3), keepdims=True), "float64")
    numerator = float(n) * ops.cast(x, "float64") - total
    variance_n2 = float(n) * squares - total * total
    # where, not maximum: Keras 3.15's maximum promotes through result_type, which maps float64 to float32 off
    # TensorFlow (on JAX and PyTorch)
    radicand = ops.where(variance_n2 >= n, variance_n2, ops.full_like(variance_n2, n))
    return ops.cast(numerator / ops.sqrt(radicand), "float32")


def central_crop(x, size: int = CROP):
    """Central ``size`` x ``size`` crop (offset ``(H - size) // 2``, as TensorFlow's crop-or-pad)."""
    top = (x.shape[1] - size) // 2
    left = (x.shape[2] - size) // 2
    return x[:, top : top + size, left : left + size, :]


# pixel / 255 in float32 for every pixel value, by numpy's correctly rounded float32 division
UNIT_TABLE = np.arange(256, dtype=np.float32) / np.float32(255)


def unit_pixels(pixels):
    """``pixels / 255`` as float32 by table lookup: the correctly rounded quotient on every backend (a compiler
    may turn a division by a constant into a multiplication by its rounded reciprocal, which differs)."""
    return ops.take(ops.convert_to_tensor(UNIT_TABLE), ops.cast(ops.convert_to_tensor(pixels), "int32"), axis=0)


def preprocess_test(images, arch: Architecture = VGG):
    """Test-time preprocessing of a batch of 0..255 integer pixels for ``arch``, exact: ``standardize``: central
    crop then exact standardization; ``unit``: pixels / 255."""
    x = ops.convert_to_tensor(images)
    if arch.preprocessing == "unit":
        return unit_pixels(x)
    return standardize_pixels(central_crop(x, arch.input_shape[0]))


def _per_image(draw, n, replicas):
    """``draw(count)`` gives per-image random values. Under a replicated step (``replicas`` = (index, count))
    draw them for the whole global batch and keep this replica's rows: images on different replicas never
    share a draw, and the result equals a one-device run over the same global batch."""
    if replicas is None:
        return draw(n)
    index, count = replicas
    return ops.take(draw(n * count), ops.arange(n) + index * n, axis=0)


def _random_crop(x, size: int, seed, replicas=None):
    n = ops.shape(x)[0]
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]

    def offsets(high):
        return _per_image(lambda m: keras.random.randint((m, 1), 0, high, seed=seed, dtype="int32"), n, replicas)

    top, left = offsets(height - size + 1), offsets(width - size + 1)
    rows = top + ops.arange(size, dtype="int32")[None, :]
    rows = rows[:, :, None, None] + ops.zeros((1, 1, width, channels), dtype="int32")
    x = ops.take_along_axis(x, rows, axis=1)
    cols = left + ops.arange(size, dtype="int32")[None, :]
    cols = cols[:, None, :, None] + ops.zeros((1, size, 1, channels), dtype="int32")
    return ops.take_along_axis(x, cols, axis=2)


def augment(x, seed, size: int = CROP, replicas=None):
    """Training augmentation of 0..255 float pixels (without the final standardization).

    ``replicas``: (replica index, replica count) inside a TensorFlow replicated step, else None."""
    n = ops.shape(x)[0]

    def uniform(low=0.0, high=1.0):
        return _per_image(lambda m: keras.random.uniform((m, 1, 1, 1), low, high, seed=seed), n, replicas)

    x = _random_crop(x, size, seed, replicas)
    flip = uniform() < 0.5
    x = ops.where(flip, ops.flip(x, axis=2), x)
    x = x + uniform(-MAX_BRIGHTNESS_DELTA, MAX_BRIGHTNESS_DELTA)
    mean = ops.mean(x, axis=(1, 2), keepdims=True)
    factor = uniform(CONTRAST_RANGE[0], CONTRAST_RANGE[1])
    return (x - mean) * factor + mean


@keras.saving.register_keras_serializable(package="quant_snn")
class Preprocess(keras.layers.Layer):
    """``standardize``: augments (training) or centrally crops (inference), then standardizes; seeded and
    reproducible. ``unit``: pixels / 255."""

    def __init__(self, size: int = CROP, seed: int | None = None, preprocessing: str = "standardize", **kwargs):
        super().__init__(**kwargs)
        self.preprocessing = preprocessing
        self.size = int(size)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Set by quant_snn.distribute under tf.distribute: returns (replica index, replica count) in a step.
        self.replica_context = None

    def call(self, inputs, training=False):
        x = ops.cast(inputs, "float32")
        if self.preprocessing == "unit":
            return x / 255.0
        if training:
            replicas = self.replica_context() if self.replica_context else None
            x = augment(x, self.seed_generator, self.size, replicas)
        else:
            x = central_crop(x, self.size)
        return standardize(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, input_shape[3])

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "seed": self.seed, "preprocessing": self.preprocessing}
