"""Networks as data: one ordered description of the convolutions, from which every part of the project is derived.

The Keras model (:mod:`quant_snn.model`), the npz layout (:mod:`quant_snn.weights`), the threshold folding, the
spiking network, the integer form, the NIR export and the neuron / SOP / MAC counts all read an
:class:`Architecture`; none of them knows the VGG-Net or the LeNet. A network here is always: convolutions without
bias, each followed by batch norm, ReLU and (quantized network) the (k, B) activation quantizer, then flatten and
one bias-free dense layer that gives the class scores. A third network is one new description plus its scripts.

numpy only (no Keras): the integer form and the NIR export import this module without loading a backend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

PADDINGS = ("same", "valid")
# How pixels become the first layer's input. "standardize": central crop to the input size, then per-image
# standardization (CIFAR; random crop, flip, brightness and contrast in training). "unit": pixels / 255 as float32,
# no augmentation (the original LeNet on MNIST).
PREPROCESSINGS = ("standardize", "unit")
BN_ARRAYS = ("beta", "gamma", "moving_mean", "moving_variance")  # the npz order after each kernel


@dataclass(frozen=True)
class ConvSpec:
    """One bias-free convolution (square kernel) and the batch norm, ReLU and quantizer after it.

    ``ternary``: in a quantized network its kernel is ternary; False keeps real-valued weights (the pixel encoder,
    whose input is the real-valued image)."""

    name: str
    filters: int
    kernel: int
    stride: int = 1
    padding: str = "same"
    ternary: bool = True

    def __post_init__(self) -> None:
        if self.padding not in PADDINGS or min(self.filters, self.kernel, self.stride) < 1:
            raise ValueError(f"bad convolution {self}")


def is_ternary(kernel: np.ndarray) -> bool:
    """Whether every weight is -1, 0 or 1 (a ternary convolution of a quantized network, as the npz stores it)."""
    return bool(np.isin(kernel, (-1.0, 0.0, 1.0)).all())


def conv_geometry(n: int, kernel: int, stride: int, padding: str) -> tuple[int, int, int]:
    """(output size, padding before, padding after) along one axis, by TensorFlow's rules: ``same`` puts an odd
    extra row or column at the end, ``valid`` pads nothing."""
    if padding != "same":
        return (n - kernel) // stride + 1, 0, 0
    out = -(-n // stride)
    total = max((out - 1) * stride + kernel - n, 0)
    return out, total // 2, total - total // 2


@dataclass(frozen=True)
class ConvParams:
    """One convolution's arrays in a weights file: its kernel (H, W, in, out) and its batch norm's vectors."""

    spec: ConvSpec
    kernel: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    moving_mean: np.ndarray
    moving_variance: np.ndarray


@dataclass(frozen=True)
class Architecture:
    """A network: input shape (H, W, C) after preprocessing, ordered convolutions, preprocessing kind."""

    name: str  # "vgg", "lenet"
    title: str  # for messages: "VGG-Net", "LeNet"
    input_shape: tuple[int, int, int]
    convs: tuple[ConvSpec, ...]
    preprocessing: str = "standardize"

    def __post_init__(self) -> None:
        if self.preprocessing not in PREPROCESSINGS:
            raise ValueError(f"preprocessing must be one of {PREPROCESSINGS}")
        if not self.convs or len({spec.name for spec in self.convs}) != len(self.convs):
            raise ValueError("an architecture needs convolutions with distinct names")
        if any(min(shape[:2]) < 1 for shape in self.layer_shapes()):
            raise ValueError(f"{self.title}: a convolution's output is empty for input {self.input_shape}")

    def variant(self, convs: tuple[ConvSpec, ...] | None = None,
                input_shape: tuple[int, int, int] | None = None) -> Architecture:
        """The same network kind with other convolutions or input size (small networks for tests)."""
        return replace(self, convs=tuple(convs or self.convs), input_shape=tuple(input_shape or self.input_shape))

    def layer_shapes(self) -> list[tuple[int, int, int]]:
        """(H, W, C) after every convolution."""
        h, w, _ = self.input_shape
        shapes = []
        for spec in self.convs:
            h = conv_geometry(h, spec.kernel, spec.stride, spec.padding)[0]
            w = conv_geometry(w, spec.kernel, spec.stride, spec.padding)[0]
            shapes.append((h, w, spec.filters))
        return shapes

    @property
    def features(self) -> int:
        """Inputs of the dense layer (the flattened last convolution)."""
        return math.prod(self.layer_shapes()[-1])

    def param_shapes(self, n_classes: int) -> list[tuple[int, ...]]:
        """Shapes of the npz ``params`` list: per convolution its kernel and four batch-norm vectors, then the
        dense kernel."""
        shapes: list[tuple[int, ...]] = []
        channels = self.input_shape[-1]
        for spec in self.convs:
            shapes.append((spec.kernel, spec.kernel, channels, spec.filters))
            shapes.extend([(spec.filters,)] * len(BN_ARRAYS))
            channels = spec.filters
        shapes.append((self.features, n_classes))
        return shapes

    def split_params(self, params: list[np.ndarray]) -> tuple[list[ConvParams], np.ndarray]:
        """The npz ``params`` list (shapes already checked) as one record per convolution and the dense kernel."""
        per = 1 + len(BN_ARRAYS)
        if len(params) != per * len(self.convs) + 1:
            raise ValueError(f"{len(params)} arrays for a {len(self.convs)}-convolution {self.title}")
        convs = [ConvParams(spec, *params[per * i : per * i + per]) for i, spec in enumerate(self.convs)]
        return convs, params[-1]

    def ann_macs(self, n_classes: int) -> list[int]:
        """Multiply-accumulates of the ANN per convolution and for the dense layer."""
        macs, channels = [], self.input_shape[-1]
        for spec, shape in zip(self.convs, self.layer_shapes()):
            macs.append(math.prod(shape) * spec.kernel * spec.kernel * channels)
            channels = spec.filters
        return macs + [self.features * n_classes]


# The VGG-Net "64C3*2-2P2-128C3*2-P2-256C3*2-P2-512C3-512" on 24x24x3 standardized CIFAR crops. conv00 encodes the
# pixels with real-valued weights; the stride-2 2x2 convolutions replace pooling.
VGG = Architecture("vgg", "VGG-Net", (24, 24, 3), (
    ConvSpec("conv00", 64, 3, ternary=False),
    ConvSpec("conv0", 64, 3),
    ConvSpec("conv1", 64, 3),
    ConvSpec("conv2", 64, 2, 2),
    ConvSpec("conv3", 128, 3),
    ConvSpec("conv4", 128, 3),
    ConvSpec("conv5", 128, 2, 2),
    ConvSpec("conv6", 256, 3),
    ConvSpec("conv7", 256, 3),
    ConvSpec("conv8", 256, 2, 2),
    ConvSpec("conv9", 512, 3),
    ConvSpec("conv10", 512, 3, 1, "valid"),
), "standardize")

# The original's LeNet "16C5-P2-32C5-P2-256" on 28x28x1 MNIST digits (pixels / 255):
# 28 -> 28 -> 24 -> 12 -> 8 -> 4 -> 1; the stride-2 2x2 convolutions are the pooling.
LENET = Architecture("lenet", "LeNet", (28, 28, 1), (
    ConvSpec("conv00", 16, 5, ternary=False),
    ConvSpec("conv0", 16, 5, 1, "valid"),
    ConvSpec("conv1", 16, 2, 2),
    ConvSpec("conv2", 32, 5, 1, "valid"),
    ConvSpec("conv3", 32, 2, 2),
    ConvSpec("conv4", 256, 4, 1, "valid"),
), "unit")

ARCHITECTURES = {arch.name: arch for arch in (VGG, LENET)}
