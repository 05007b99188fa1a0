"""Convolution whose kernel passes through a quantizer on every forward pass (Larq's pattern), and convolution as
one matrix product of patches and kernel."""

from __future__ import annotations

import keras
from keras import ops

from .architecture import conv_geometry


def conv_as_matmul(x, kernel, stride: int, padding: str):
    """``ops.conv`` (TensorFlow padding rules) as patches times the reshaped kernel: one dense matrix product.

    For the spiking network's float64 first layer: on CPU, XLA's float64 convolution is far slower than its float64
    matrix product, and it made that one small layer a large part of the spiking network's time
    (bench/snn_throughput.py). For ``QuantConv2D`` on small inputs (its ``matmul_max_input``). The patches are
    gathered by slicing (no arithmetic), so the sums add the convolution's products."""
    k = kernel.shape[0]
    out_h, top, bottom = conv_geometry(x.shape[1], k, stride, padding)
    out_w, left, right = conv_geometry(x.shape[2], k, stride, padding)
    if top or bottom or left or right:
        x = ops.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    columns = [x[:, i : i + (out_h - 1) * stride + 1 : stride, j : j + (out_w - 1) * stride + 1 : stride, :]
               for i in range(k) for j in range(k)]  # (kh, kw, channel) order, as the kernel's reshape below
    patches = ops.concatenate(columns, axis=-1)
    return ops.einsum("bhwk,kc->bhwc", patches, ops.reshape(kernel, (-1, kernel.shape[-1])))


@keras.saving.register_keras_serializable(package="quant_snn")
class QuantConv2D(keras.layers.Conv2D):
    """``Conv2D`` that convolves with ``kernel_quantizer(kernel)``; the latent float kernel is what trains."""

    def __init__(self, *args, kernel_quantizer=None, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(kernel_quantizer, dict):
            kernel_quantizer = keras.saving.deserialize_keras_object(kernel_quantizer)
        self.kernel_quantizer = kernel_quantizer

    def quantized_kernel(self):
        """The kernel the layer actually convolves with (ternary values for a ternary quantizer)."""
        if self.kernel_quantizer is None:
            return self.kernel
        return self.kernel_quantizer(self.kernel)

    def freeze_quantized_kernel(self) -> None:
        """For inference: store the quantized kernel and drop the quantizer, so that it is not recomputed (a
        reduction over the whole kernel) on every batch; on eager PyTorch that took most of a batch of one image.

        Bit for bit the same convolution for kernels loaded from a weights file: those are ternary already
        (``weights.check_npz``), and ternarizing a ternary kernel returns it unchanged whatever order the mean is
        summed in (its threshold lies in (0, 0.7]). A latent float kernel with a weight exactly at the threshold
        could, in principle, round the other way here than in a compiled graph."""
        if self.kernel_quantizer is not None:
            self.kernel.assign(self.quantized_kernel())
            self.kernel_quantizer = None

    # Inputs at most this many pixels high and wide are convolved by conv_as_matmul. There every output sees most
    # of the input, and TensorFlow's CPU gradient of such a convolution (Conv2DBackpropInput) took 8-190x its
    # forward time on a 2-core AVX2 CPU; with the VGG-Net's last two layers as matrix products the quantized
    # network trained 1.79x faster there (bench/train_throughput.py --native_baseline), on PyTorch 1.10x. The
    # same sums (the quantized network's are exact integers in any order). 0: native convolution
    # only, which the spiking evaluation's ANNs use (forward only, where the native one is faster).
    matmul_max_input = 3

    def convolution_op(self, inputs, kernel):
        if self.kernel_quantizer is not None:
            kernel = self.kernel_quantizer(kernel)
        if self._as_matmul(inputs, kernel):
            return conv_as_matmul(inputs, kernel, self.strides[0], self.padding)
        return super().convolution_op(inputs, kernel)

    def _as_matmul(self, inputs, kernel) -> bool:
        size = tuple(inputs.shape[1:3])
        return (None not in size and max(size) <= self.matmul_max_input and self.data_format == "channels_last"
                and kernel.shape[0] == kernel.shape[1] and self.strides[0] == self.strides[1]
                and tuple(self.dilation_rate) == (1, 1) and self.groups == 1)

    def get_config(self) -> dict:
        config = super().get_config()
        config["kernel_quantizer"] = (
            None if self.kernel_quantizer is None else keras.saving.serialize_keras_object(self.kernel_quantizer)
        )
        return config
