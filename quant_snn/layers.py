"""Convolution whose kernel passes through a quantizer on every forward pass (Larq's pattern)."""

from __future__ import annotations

import keras


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

    def convolution_op(self, inputs, kernel):
        if self.kernel_quantizer is not None:
            kernel = self.kernel_quantizer(kernel)
        return super().convolution_op(inputs, kernel)

    def get_config(self) -> dict:
        config = super().get_config()
        config["kernel_quantizer"] = (
            None if self.kernel_quantizer is None else keras.saving.serialize_keras_object(self.kernel_quantizer)
        )
        return config
