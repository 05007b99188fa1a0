"""The converted spiking network in integer form, for hardware tool chains: int8 kernels and int32 thresholds.

The ternary convolutions integrate integer spike counts with ternary kernels, so every membrane ``m`` is an integer and
each folded threshold can be stored as an integer: the simulator's neuron (``quant_snn.thresholds``) fires at threshold
``i`` when ``d * m >= d * theta_i`` (``d = -1`` for a negative batch-norm gamma, whose kernel column is stored negated),
and for an integer ``d * m`` that is ``d * m >= ceil(d * theta_i)``. Channels with gamma = 0 fire always or never: their
thresholds become ``ALWAYS`` / ``NEVER``, beyond any membrane. The first layer integrates the real-valued image times
2^k with real-valued weights, so it keeps its float kernel and float64 thresholds; the dense layer keeps its float
kernel and never spikes. One time step: a neuron's spike count is the number of thresholds it reaches.

``run_integer`` executes the form in numpy (float64 sums of integers, exact below 2^53) as an executable spec.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .architecture import VGG, Architecture, ConvSpec, conv_geometry, is_ternary
from .errors import UserError
from .quant_config import ROUNDING_OFFSET, QuantConfig
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
    input_scale: float = 1.0  # 2^k for the first layer (its input is the preprocessed image)

    @property
    def integer(self) -> bool:
        return self.kernel.dtype == np.int8


@dataclass(frozen=True)
class IntegerNetwork:
    quant: QuantConfig
    arch: Architecture
    convs: tuple[IntegerConv, ...]
    dense: np.ndarray  # (features, classes) float32: the output layer integrates, never spikes


def integer_thresholds(theta: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """``ceil(d * theta)`` as int32 per channel and threshold, infinite thresholds as ALWAYS / NEVER."""
    signed = direction[:, None].astype(np.float64) * theta
    with np.errstate(invalid="ignore"):
        bounded = np.clip(np.ceil(signed), float(ALWAYS), float(NEVER))
    return np.where(np.isposinf(signed), NEVER, np.where(np.isneginf(signed), ALWAYS, bounded)).astype(np.int32)


def integer_network(params: list[np.ndarray], quant: QuantConfig, arch: Architecture = VGG,
                    rounding_offset: float = ROUNDING_OFFSET) -> IntegerNetwork:
    """Convert an npz ``params`` list of a quantized ``arch`` network (already checked against the flags);
    ``rounding_offset=0``: the original code's thresholds (:func:`quant_snn.thresholds.fold_batchnorm`)."""
    if not quant.quantized:
        raise UserError("an FP32 network has no spiking form: export a quantized (--k/--B) npz")
    conv_params, dense = arch.split_params(params)
    layers = []
    for i, p in enumerate(conv_params):
        folded = fold_batchnorm(p.beta, p.gamma, p.moving_mean, p.moving_variance, quant.k, quant.n_thresholds,
                                rounding_offset=rounding_offset)
        direction = folded.direction.astype(np.int8)
        theta = folded.theta  # float64, hi + lo exactly
        scale = float(2**quant.k) if i == 0 else 1.0
        if not p.spec.ternary:
            layers.append(IntegerConv(p.spec, np.asarray(p.kernel, np.float32) * direction,
                                      direction[:, None] * theta, direction, scale))
            continue
        if not is_ternary(p.kernel):
            raise UserError(f"{p.spec.name} has non-ternary weights: not a quantized network's npz")
        layers.append(IntegerConv(p.spec, (np.asarray(p.kernel) * direction).astype(np.int8),
                                  integer_thresholds(theta, folded.direction), direction, scale))
    return IntegerNetwork(quant, arch, tuple(layers), np.asarray(dense, np.float32))


def conv_same_as_tensorflow(x: np.ndarray, kernel: np.ndarray, stride: int, padding: str) -> np.ndarray:
    """float64 convolution with TensorFlow's padding rules (``same`` pads the extra row/column at the end)."""
    size = kernel.shape[0]
    if padding == "same":
        pads = [conv_geometry(n, size, stride, padding)[1:] for n in x.shape[1:3]]
        x = np.pad(x, ((0, 0), *pads, (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(1, 2))[:, ::stride, ::stride]
    # windows: (B, Ho, Wo, C, kh, kw) -> contract with kernel (kh, kw, C, F)
    return np.tensordot(windows, kernel.astype(np.float64), axes=([4, 5, 3], [0, 1, 2]))


def run_integer(net: IntegerNetwork, images: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Spike counts (int64) of every layer and the output potential for preprocessed ``images`` (B, H, W, C)."""
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
