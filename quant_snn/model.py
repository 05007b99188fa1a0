"""The Keras model of an :class:`~quant_snn.architecture.Architecture` (the VGG-Net, the LeNet).

Bias-free convolutions, each followed by batch norm (epsilon 1e-5, decay 0.9), ReLU and, when quantized, median
activation quantization (the ReLU then fused into the quantizer's clip); then flatten and a bias-free dense layer
whose output is the class score. Convolutions marked ``ternary`` get ternary kernels in a quantized network; the
pixel encoder and the dense layer keep full-precision weights. The FP32 baseline is the same builder with
``QuantConfig`` FP32 (no quantizer anywhere).
"""

from __future__ import annotations

import keras
from keras import ops

from .architecture import VGG, Architecture
from .layers import QuantConv2D
from .precision import enable_float64
from .quant_config import BN_EPSILON, QuantConfig
from .quantizers import ActivationQuantizer, TernaryQuantizer

BN_MOMENTUM = 0.9


@keras.saving.register_keras_serializable(package="quant_snn")
class Float64BatchNorm(keras.layers.BatchNormalization):
    """Batch norm at inference that computes in float64 on every backend, for the ANN that decides in float64.

    Keras 3.15's BatchNormalization computes in ``result_type(inputs, "float32")``, and its type promotion maps
    float64 to float32 on JAX and PyTorch: there a float64 layer normalized in float32 and casts back, so neurons
    within about 1e-8 of a quantization step could land on the other side than in float64 (seen on real CIFAR-10
    images on JAX: one image of 10,000). Same formula as the folded thresholds, ``gamma (x - mean) / sqrt(var +
    eps) + beta``, in float64 throughout."""

    def call(self, inputs, training=None, mask=None):
        x = ops.cast(inputs, "float64")
        mean, variance, gamma, beta = (ops.cast(v, "float64") for v in
                                       (self.moving_mean, self.moving_variance, self.gamma, self.beta))
        return gamma * (x - mean) / ops.sqrt(variance + self.epsilon) + beta


def bn_name(conv_name: str) -> str:
    return "bn" + conv_name[len("conv"):]


def build_network(
    n_classes: int,
    quant: QuantConfig,
    arch: Architecture = VGG,
    synchronized_batchnorm: bool = False,
    exact: bool = False,
) -> keras.Model:
    """Build ``arch`` on preprocessed images (``arch.variant(...)`` gives small networks for tests).

    ``synchronized_batchnorm``: all-reduce batch statistics over replicas (tf.distribute), so that a multi-device
    step normalizes with the global batch's statistics like a one-device step. Under a mixed-precision policy
    the class scores (dense layer) are computed in float32; otherwise every layer follows the policy.

    ``exact``: the quantized ANN as float64 decides it, for checking the spiking network. The first convolution
    (real-valued image), every batch norm and quantizer, and the dense layer compute in float64; the other
    convolutions stay float32, where their sums (quantized activations x ternary kernels) are exact anyway."""
    if exact:
        enable_float64()
    wide = "float64" if exact else None
    inputs = keras.Input(shape=arch.input_shape, name="image")
    x = inputs
    for spec in arch.convs:
        ternary = quant.quantized and spec.ternary
        x = QuantConv2D(
            spec.filters,
            spec.kernel,
            strides=spec.stride,
            padding=spec.padding,
            use_bias=False,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            kernel_quantizer=TernaryQuantizer() if ternary else None,
            dtype=wide if not ternary else None,
            name=spec.name,
        )(x)
        x = (Float64BatchNorm if exact else keras.layers.BatchNormalization)(
            momentum=BN_MOMENTUM, epsilon=BN_EPSILON, synchronized=synchronized_batchnorm, dtype=wide,
            name=bn_name(spec.name)
        )(x)
        if quant.quantized:  # ReLU fused into the quantizer's clip to [0, B]
            x = ActivationQuantizer(quant.k, quant.B, relu=True, dtype=wide, name=f"quant{spec.name[4:]}")(x)
        else:
            x = keras.layers.ReLU(name=f"relu{spec.name[4:]}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if exact:  # einsum: Keras 3.15's Dense (matmul) on PyTorch computes float64 inputs in float32
        outputs = keras.layers.EinsumDense("bf,fc->bc", output_shape=(n_classes,), dtype=wide, name="dense")(x)
    else:
        outputs = keras.layers.Dense(
            n_classes,
            use_bias=False,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.1),
            dtype="float32" if keras.config.dtype_policy().name.startswith("mixed") else None,
            name="dense",
        )(x)
    return keras.Model(inputs, outputs, name=f"{arch.name}_{quant.tag}")


def conv_layers(model: keras.Model) -> list[QuantConv2D]:
    """The model's convolutions in layer order."""
    return [layer for layer in model.layers if isinstance(layer, QuantConv2D)]
