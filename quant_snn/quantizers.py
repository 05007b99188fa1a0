"""Ternary weights and median activation quantization, each a function plus a serializable Keras class.

Both use an *exact* straight-through estimator: the forward value is ``stop_gradient(q) + (x - stop_gradient(x))``,
which equals ``q`` bit for bit (``x - x == 0``) while the gradient flows through ``x`` unchanged. The usual
``x + stop_gradient(q - x)`` would leave rounding residue, and the spiking network must reproduce these values
exactly. Only ``keras.ops`` is used, so the code runs on every Keras backend.
"""

from __future__ import annotations

import keras
from keras import ops

from .quant_config import ROUNDING_OFFSET

TERNARY_THRESHOLD_FACTOR = 0.7


def _straight_through(forward_value, x):
    """Return ``forward_value`` exactly, with the gradient of ``x`` (identity)."""
    return ops.stop_gradient(forward_value) + (x - ops.stop_gradient(x))


def ternarize(w, threshold_factor: float = TERNARY_THRESHOLD_FACTOR):
    """Ternary weights: ``t = 0.7 * mean(|W|)`` over the whole kernel, ``w -> sign(sign(w + t) + sign(w - t))``.

    So ``w >= t`` gives +1, ``w <= -t`` gives -1 and ``|w| < t`` gives 0. Straight-through gradient.
    Applying it to an already ternary kernel returns the kernel unchanged (``t <= 0.7 < 1``). The 0.7 * mean|W|
    threshold is that of Ternary Weight Networks (F. Li, B. Liu, "Ternary Weight Networks", arXiv:1605.04711, 2016);
    unlike there, no scaling factor multiplies the ternary values (the spiking network needs -1, 0, 1).
    """
    w = ops.convert_to_tensor(w)
    t = threshold_factor * ops.mean(ops.abs(w))
    q = ops.sign(ops.sign(w + t) + ops.sign(w - t))
    return _straight_through(q, w)


def quantize_activation(x, k: int, B: float, relu: bool = False):
    """Median quantization: ``c = clip(x, -B, B)``, ``q = round(c * 2^k + 1e-5) / 2^k``.

    After a ReLU this gives the ``2^k*B + 1`` levels ``0, 1/2^k, ..., B``; ``relu=True`` fuses that ReLU
    (``clip(relu(x), -B, B) == clip(x, 0, B)``), one pass less over the activations. The gradient is
    straight-through for the rounding and that of the clip (1 inside the clip range, 0 outside).

    ``c + stop_gradient(q - c)`` is exact here: ``q`` is within half a step of ``c`` and at least one step
    from 0 unless it is 0, so ``q/2 <= c <= 2q`` and ``q - c`` has no rounding error (Sterbenz), hence neither
    has ``c + (q - c) == q``.
    """
    x = ops.convert_to_tensor(x)
    scale = float(2**k)
    c = ops.clip(x, 0.0 if relu else -float(B), float(B))
    q = ops.round(c * scale + ROUNDING_OFFSET) * (1.0 / scale)
    return c + ops.stop_gradient(q - c)


@keras.saving.register_keras_serializable(package="quant_snn")
class TernaryQuantizer:
    """Kernel quantizer for :class:`quant_snn.layers.QuantConv2D`; see :func:`ternarize`."""

    def __init__(self, threshold_factor: float = TERNARY_THRESHOLD_FACTOR):
        self.threshold_factor = float(threshold_factor)

    def __call__(self, w):
        return ternarize(w, self.threshold_factor)

    def get_config(self) -> dict:
        return {"threshold_factor": self.threshold_factor}

    @classmethod
    def from_config(cls, config: dict) -> TernaryQuantizer:
        return cls(**config)


@keras.saving.register_keras_serializable(package="quant_snn")
class ActivationQuantizer(keras.layers.Layer):
    """Layer form of :func:`quantize_activation` with level ``k``, upper bound ``B`` and optional fused ReLU."""

    def __init__(self, k: int, B: float, relu: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.k = int(k)
        self.B = float(B)
        self.relu = bool(relu)

    def call(self, inputs):
        return quantize_activation(inputs, self.k, self.B, self.relu)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "k": self.k, "B": self.B, "relu": self.relu}
