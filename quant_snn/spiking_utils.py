"""The spiking network: one-time-step integrate-and-fire layers with 2^k*B thresholds, and the npz converter.

Users of the original know this module as ``spiking_utils``. Each convolution neuron integrates
``mem = W * input`` (the first layer's input is the preprocessed image times 2^k, every later input is an
integer spike count) and emits one spike per threshold it reaches (:mod:`quant_snn.thresholds`), so its spike
count is the integer ``2^k * q`` of the quantized ANN. The dense layer integrates without spiking; its potential
is ``2^k`` times the ANN's class score. Everything is ``keras.ops``, batched, with no Python loop over
thresholds or pixels; the network is a Keras model, so ``predict_on_batch`` compiles it on any backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from .architecture import VGG, Architecture, ConvSpec, conv_geometry
from .flag_checks import check_noise_ratio
from .layers import conv_as_matmul
from .precision import enable_float64
from .quant_config import QuantConfig
from .spike_noise import binomial_cdf_table, drop_spikes, uniform
from .thresholds import FoldedThresholds, fold_batchnorm

NOISE_LAYERS = ("first", "all")


def window_coverage(size: tuple[int, int], kernel: int, stride: int, padding: str) -> np.ndarray:
    """How many output windows of a convolution (TensorFlow padding rules) contain each input pixel."""
    coverage = []
    for n in size:
        out, pad_before, _ = conv_geometry(n, kernel, stride, padding)
        counts = np.zeros(n, dtype=np.float32)
        for o in range(out):
            start = o * stride - pad_before
            counts[max(start, 0) : max(min(start + kernel, n), 0)] += 1
        coverage.append(counts)
    return np.outer(coverage[0], coverage[1])


@keras.saving.register_keras_serializable(package="quant_snn")
class SpikingConv2D(keras.layers.Layer):
    """Convolution of spike counts (or of the scaled image) followed by multi-threshold firing.

    Returns ``(counts, channel_sum)``: integer spike counts per neuron (float32 values 0..n) and their sum over
    channels (B, H, W), from which spike totals and the next layer's SOPs follow at 1/C of the cost.
    ``noise_ratio`` drops each emitted spike independently with that probability (:mod:`quant_snn.spike_noise`).
    ``exact_input`` (the first layer, whose input is the real-valued image): the membrane is summed in float64, so
    its decisions do not depend on the summation order (XLA, oneDNN and the backends each sum differently, and in
    float32 that flipped a few decisions on real images); later layers sum integers, exact in float32.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int,
        strides: int = 1,
        padding: str = "same",
        n_thresholds: int = 4,
        input_scale: float = 1.0,
        noise_ratio: float = 0.0,
        seed: int | None = None,
        exact_input: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.exact_input = bool(exact_input)
        if self.exact_input:
            enable_float64()
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)
        self.padding = padding
        self.n_thresholds = int(n_thresholds)
        self.input_scale = float(input_scale)
        self.noise_ratio = float(noise_ratio)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed) if self.noise_ratio > 0 else None
        self.drop_table = binomial_cdf_table(self.n_thresholds, self.noise_ratio) if self.noise_ratio > 0 else None

    def build(self, input_shape):
        k, c, n = self.kernel_size, self.filters, self.n_thresholds
        self.kernel = self.add_weight(shape=(k, k, input_shape[-1], c), initializer="zeros", trainable=False,
                                      name="kernel")
        self.hi = self.add_weight(shape=(c, n), initializer="zeros", trainable=False, name="threshold_hi")
        self.lo = self.add_weight(shape=(c, n), initializer="zeros", trainable=False, name="threshold_lo")

    def set_params(self, kernel: np.ndarray, thresholds: FoldedThresholds) -> None:
        """Load a kernel and folded thresholds.

        A channel with gamma < 0 fires when ``mem <= theta``, i.e. ``-mem >= -theta``: its kernel column and
        thresholds are stored negated (exact in floating point), so every neuron tests ``mem' - hi >= lo``.
        """
        direction = thresholds.direction
        self.kernel.assign(np.asarray(kernel, np.float32) * direction)
        self.hi.assign(direction[:, None] * thresholds.hi)
        self.lo.assign(direction[:, None] * thresholds.lo)

    def call(self, inputs):
        kernel, hi, lo = self.kernel, self.hi, self.lo
        if self.exact_input:
            inputs, kernel, hi, lo = (ops.cast(t, "float64") for t in (inputs, kernel, hi, lo))
        x = inputs * self.input_scale if self.input_scale != 1.0 else inputs
        if self.exact_input:
            mem = conv_as_matmul(x, kernel, self.strides, self.padding)
        else:
            mem = ops.conv(x, kernel, strides=self.strides, padding=self.padding)
        # One comparison per threshold, added up: elementwise work that XLA fuses, where a reduction over a
        # trailing axis of n thresholds ran as a slow (B, H, W, C, n) reduction
        counts = None
        for i in range(self.n_thresholds):
            fired = ops.cast(mem - hi[:, i] >= lo[:, i], "float32")
            counts = fired if counts is None else counts + fired
        if self.noise_ratio > 0:
            counts = drop_spikes(counts, self.drop_table, uniform(ops.shape(counts), self.seed_generator))
        return counts, ops.sum(counts, axis=-1)

    def get_config(self) -> dict:
        return {
            **super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
            "padding": self.padding, "n_thresholds": self.n_thresholds, "input_scale": self.input_scale,
            "noise_ratio": self.noise_ratio, "seed": self.seed, "exact_input": self.exact_input,
        }


@keras.saving.register_keras_serializable(package="quant_snn")
class WindowSum(keras.layers.Layer):
    """``sum(im2col(x))`` per image from the channel sums of ``x``: each pixel counted once per window covering it."""

    def __init__(self, kernel_size: int, strides: int = 1, padding: str = "same", **kwargs):
        super().__init__(**kwargs)
        self.kernel_size, self.strides, self.padding = int(kernel_size), int(strides), padding

    def build(self, input_shape):
        self.coverage = self.add_weight(shape=tuple(input_shape[1:3]), initializer="zeros", trainable=False,
                                        name="coverage")
        self.coverage.assign(window_coverage(tuple(input_shape[1:3]), self.kernel_size, self.strides, self.padding))

    def call(self, channel_sum):
        return ops.sum(channel_sum * self.coverage, axis=(1, 2))

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def get_config(self) -> dict:
        return {**super().get_config(), "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding}


@keras.saving.register_keras_serializable(package="quant_snn")
class IntegratingDense(keras.layers.Layer):
    """The output layer: integrates the flattened spike counts with its weights and never spikes (in float64, like
    the exact ANN's dense layer, so that near-ties between classes do not depend on the summation order)."""

    def __init__(self, units: int, **kwargs):
        enable_float64()
        kwargs.setdefault("dtype", "float64")  # a float32 policy would hand float32 outputs back on PyTorch
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="zeros", trainable=False,
                                      name="kernel")

    def call(self, inputs):
        # einsum: Keras 3.15's matmul/dot/tensordot on PyTorch compute float64 inputs in float32
        return ops.einsum("bf,fc->bc", ops.cast(inputs, "float64"), ops.cast(self.kernel, "float64"))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


@dataclass(frozen=True)
class SpikingNetwork:
    """The spiking Keras model and what the evaluation needs to know about it."""

    model: keras.Model  # input: preprocessed images; outputs: potential, spikes per layer, fan-in per layer
    quant: QuantConfig
    arch: Architecture
    n_classes: int

    @property
    def convs(self) -> tuple[ConvSpec, ...]:
        return self.arch.convs

    @property
    def layer_shapes(self) -> list[tuple[int, int, int]]:
        """(H, W, C) of every spiking layer."""
        return self.arch.layer_shapes()

    @property
    def neurons_per_layer(self) -> list[int]:
        return [int(np.prod(shape)) for shape in self.layer_shapes]

    def ann_macs_per_layer(self) -> list[int]:
        """Multiply-accumulates of the equivalent ANN, per conv layer and the dense layer."""
        return self.arch.ann_macs(self.n_classes)


def build_spiking_model(
    params: list[np.ndarray],
    quant: QuantConfig,
    *,
    arch: Architecture = VGG,
    noise_ratio: float = 0.0,
    noise_layers: str = "first",
    seed: int | None = None,
    return_counts: bool = False,
) -> SpikingNetwork:
    """Convert an npz ``params`` list of ``arch`` (already checked) into a spiking network.

    With ``return_counts`` the model also outputs every layer's spike-count tensor (for tests and analysis).
    """
    if not quant.quantized:
        raise ValueError("only a quantized network converts into a spiking network")
    if noise_layers not in NOISE_LAYERS:
        raise ValueError(f"noise_layers must be one of {NOISE_LAYERS}")
    check_noise_ratio(noise_ratio)
    n = quant.n_thresholds
    inputs = keras.Input(shape=arch.input_shape, name="image")
    x, channel_sum, spikes, fan_ins, all_counts, layers = inputs, None, [], [], [], []
    for i, spec in enumerate(arch.convs):
        noisy = noise_ratio > 0 and (i == 0 or noise_layers == "all")
        layer = SpikingConv2D(
            spec.filters, spec.kernel, spec.stride, spec.padding, n_thresholds=n,
            input_scale=float(2**quant.k) if i == 0 else 1.0, noise_ratio=noise_ratio if noisy else 0.0,
            seed=None if seed is None else seed + i, exact_input=not spec.ternary, name=f"s{spec.name}",
        )
        if i > 0:  # SOPs count the input spikes of every layer after the first; the first one's input is the image
            fan_ins.append(WindowSum(spec.kernel, spec.stride, spec.padding, name=f"fan_in_{spec.name}")(channel_sum))
        x, channel_sum = layer(x)
        layers.append(layer)
        spikes.append(keras.layers.Lambda(lambda t: ops.sum(t, axis=(1, 2)), name=f"spikes_{spec.name}")(channel_sum))
        all_counts.append(x)
    conv_params, dense_kernel = arch.split_params(params)
    dense = IntegratingDense(dense_kernel.shape[1], name="dense")
    potential = dense(keras.layers.Flatten()(x))
    outputs = [potential, spikes, fan_ins] + ([all_counts] if return_counts else [])
    model = keras.Model(inputs, outputs, name=f"snn_{arch.name}_{quant.tag}")
    for layer, p in zip(layers, conv_params):
        layer.set_params(p.kernel, fold_batchnorm(p.beta, p.gamma, p.moving_mean, p.moving_variance, quant.k, n))
    dense.kernel.assign(dense_kernel)
    return SpikingNetwork(model, quant, arch, int(dense_kernel.shape[1]))
