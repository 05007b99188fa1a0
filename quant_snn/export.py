"""The converted spiking network in integer form, for hardware tool chains: int8 kernels and int32 thresholds.

conv0..conv10 integrate integer spike counts with ternary kernels, so every membrane ``m`` is an integer and each
folded threshold can be stored as an integer: the simulator's neuron (``quant_snn.thresholds``) fires at threshold
``i`` when ``d * m >= d * theta_i`` (``d = -1`` for a negative batch-norm gamma, whose kernel column is stored
negated), and for an integer ``d * m`` that is ``d * m >= ceil(d * theta_i)``. Channels with gamma = 0 fire always
or never: their thresholds become ``ALWAYS`` / ``NEVER``, beyond any membrane. The first layer integrates the
real-valued image times 2^k, so it keeps its float kernel and float64 thresholds; the dense layer keeps its float
kernel and never spikes. One time step: a neuron's spike count is the number of thresholds it reaches.

``run_integer`` executes the form in numpy (float64 sums of integers, exact below 2^53) as an executable spec.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import QuantConfig
from .errors import UserError
from .model import VGG_CONVS, ConvSpec
from .thresholds import fold_batchnorm

ALWAYS = np.iinfo(np.int32).min  # reached by every membrane
NEVER = np.iinfo(np.int32).max  # reached by none (|membrane| <= 2^k*B * fan-in, far below 2^31)


@dataclass(frozen=True)
class IntegerConv:
    """One spiking convolution: ``direction * conv(input, kernel) >= thresholds[c, i]`` counts the spikes.

    ``kernel`` (kh, kw, cin, cout) is int8 with the direction already applied (float32 for the first layer);
    ``thresholds`` (cout, n) int32 (float64 for the first layer); ``direction`` (cout,) +1 / -1."""

    spec: ConvSpec
    kernel: np.ndarray
    thresholds: np.ndarray
    direction: np.ndarray
    input_scale: float = 1.0  # 2^k for the first layer (its input is the standardized image)

    @property
    def integer(self) -> bool:
        return self.kernel.dtype == np.int8


@dataclass(frozen=True)
class IntegerNetwork:
    quant: QuantConfig
    convs: tuple[IntegerConv, ...]
    dense: np.ndarray  # (features, classes) float32: the output layer integrates, never spikes


def integer_thresholds(theta: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """``ceil(d * theta)`` as int32 per channel and threshold, infinite thresholds as ALWAYS / NEVER."""
    signed = direction[:, None].astype(np.float64) * theta
    with np.errstate(invalid="ignore"):
        bounded = np.clip(np.ceil(signed), float(ALWAYS), float(NEVER))
    return np.where(np.isposinf(signed), NEVER, np.where(np.isneginf(signed), ALWAYS, bounded)).astype(np.int32)


def integer_network(params: list[np.ndarray], quant: QuantConfig, convs: tuple[ConvSpec, ...] = VGG_CONVS
                    ) -> IntegerNetwork:
    """Convert an npz ``params`` list of a quantized network (already checked against the flags)."""
    if not quant.quantized:
        raise UserError("an FP32 network has no spiking form: export a quantized (--k/--B) npz")
    layers = []
    for i, spec in enumerate(convs):
        kernel, beta, gamma, mean, var = params[5 * i : 5 * i + 5]
        folded = fold_batchnorm(beta, gamma, mean, var, quant.k, quant.levels)
        direction = folded.direction.astype(np.int8)
        theta = folded.theta  # float64, hi + lo exactly
        if i == 0:
            layers.append(IntegerConv(spec, np.asarray(kernel, np.float32) * direction,
                                      direction[:, None] * theta, direction, float(2**quant.k)))
            continue
        if not np.isin(kernel, (-1.0, 0.0, 1.0)).all():
            raise UserError(f"{spec.name} has non-ternary weights: not a quantized network's npz")
        layers.append(IntegerConv(spec, (np.asarray(kernel) * direction).astype(np.int8),
                                  integer_thresholds(theta, folded.direction), direction))
    return IntegerNetwork(quant, tuple(layers), np.asarray(params[-1], np.float32))


def conv_same_as_tensorflow(x: np.ndarray, kernel: np.ndarray, stride: int, padding: str) -> np.ndarray:
    """float64 convolution with TensorFlow's padding rules (``same`` pads the extra row/column at the end)."""
    size = kernel.shape[0]
    if padding == "same":
        pads = []
        for n in x.shape[1:3]:
            total = max((-(-n // stride) - 1) * stride + size - n, 0)
            pads.append((total // 2, total - total // 2))
        x = np.pad(x, ((0, 0), *pads, (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    # windows: (B, Ho, Wo, C, kh, kw) -> contract with kernel (kh, kw, C, F)
    return np.tensordot(windows, kernel.astype(np.float64), axes=([4, 5, 3], [0, 1, 2]))


def run_integer(net: IntegerNetwork, images: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Spike counts (int64) of every layer and the output potential for standardized ``images`` (B, H, W, 3)."""
    x = np.asarray(images, np.float64)
    counts = []
    for layer in net.convs:
        mem = conv_same_as_tensorflow(x * layer.input_scale, layer.kernel, layer.spec.stride, layer.spec.padding)
        if layer.integer:
            mem = np.rint(mem).astype(np.int64)  # integer sums, exact in float64
        fired = mem[..., None] >= layer.thresholds
        x = fired.sum(axis=-1)
        counts.append(x.astype(np.int64))
        x = x.astype(np.float64)
    potential = x.reshape(len(x), -1) @ net.dense.astype(np.float64)
    return counts, potential
