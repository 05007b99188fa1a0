"""The real-valued first layer decides in float64, compiled or not, so the SNN equals a float64 ANN on real images.

Later layers integrate integer spike counts (exact in float32); the first one sums image x kernel products, whose
float32 value depends on the summation order (XLA, oneDNN, each backend differ), which flipped threshold decisions
on real images. These tests put thresholds within 1e-12 of the float64 membrane: float32 sums miss about half.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy
from synthetic import SMALL, SMALL_CONVS
from test_spiking import finish_params, random_params

from quant_snn.model import build_network
from quant_snn.precision import compile_for_inference
from quant_snn.quant_config import QuantConfig
from quant_snn.spiking_utils import SpikingConv2D, build_spiking_model
from quant_snn.thresholds import FoldedThresholds
from quant_snn.weights import assign_params

pytestmark = pytest.mark.backends  # make test runs this file on TensorFlow, JAX and PyTorch

CHANNELS = 256


def split(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hi = theta.astype(np.float32)
    return hi, (theta - hi.astype(np.float64)).astype(np.float32)


@pytest.mark.parametrize("compiled", [False, True])
def test_first_layer_decides_like_float64_at_razor_thin_thresholds(compiled):
    rng = np.random.default_rng(11)
    image = rng.normal(size=(1, 3, 3, 3)).astype(np.float32)
    kernel = rng.normal(size=(3, 3, 3, CHANNELS)).astype(np.float32)
    layer = SpikingConv2D(CHANNELS, 3, padding="valid", n_thresholds=2, input_scale=2.0, exact_input=True)
    inputs = keras.Input((3, 3, 3))
    model = keras.Model(inputs, layer(inputs)[0])
    mem = 2.0 * np.einsum("hwc,hwcf->f", image[0].astype(np.float64), kernel.astype(np.float64))
    tiny = 1e-12 * np.abs(mem)
    direction = np.where(np.arange(CHANNELS) % 2 == 0, 1.0, -1.0)  # odd channels: gamma < 0, fire when mem <= theta
    # threshold 0 is just reached, threshold 1 just missed, in each channel's own direction
    theta = np.stack([mem - direction * tiny, mem + direction * tiny], axis=1)
    hi, lo = split(theta)
    layer.set_params(kernel, FoldedThresholds(hi, lo, direction.astype(np.float32)))
    if compiled:
        compile_for_inference(model)
        counts = to_numpy(model.predict_on_batch(image))
    else:
        counts = to_numpy(model(image))
    np.testing.assert_array_equal(counts.reshape(-1), np.ones(CHANNELS, np.float32))


def test_float32_membrane_would_miss_them():
    """The premise of the test above: summed in float32, such thresholds give wrong decisions."""
    rng = np.random.default_rng(11)
    image = rng.normal(size=(3, 3, 3)).astype(np.float32)
    kernel = rng.normal(size=(3, 3, 3, CHANNELS)).astype(np.float32)
    mem64 = 2.0 * np.einsum("hwc,hwcf->f", image.astype(np.float64), kernel.astype(np.float64))
    mem32 = 2.0 * np.einsum("hwc,hwcf->f", image, kernel, dtype=np.float32)
    assert np.mean(mem32 < mem64 - 1e-12 * np.abs(mem64)) > 0.1


def test_exact_ann_and_snn_agree_on_real_valued_images_compiled():
    """The small VGG variant with negative and zero gamma on normal (not dyadic) images, both compiled: SNN =
    float64-decided ANN. (The full VGG on real-valued images, on every backend: test_backends.py.)"""
    rng = np.random.default_rng(5)
    quant = QuantConfig(1, 2)
    params = finish_params(random_params(rng, SMALL_CONVS, 3, 10), rng, 12 * 12 * 8, 10)
    images = rng.normal(size=(8, 24, 24, 3)).astype(np.float32)
    snn = compile_for_inference(build_spiking_model(params, quant, arch=SMALL).model)
    exact = build_network(10, quant, arch=SMALL, exact=True)
    assign_params(exact, params)
    compile_for_inference(exact)
    potential = to_numpy(snn.predict_on_batch(images)[0])
    logits = to_numpy(exact.predict_on_batch(images))
    np.testing.assert_array_equal(potential.argmax(1), logits.argmax(1))
    np.testing.assert_allclose(potential, logits * 2**quant.k, rtol=1e-6, atol=1e-6)


def test_exact_ann_normalizes_in_float64():
    """Keras' own BatchNormalization computes in float32 on JAX and PyTorch even as a float64 layer (its type
    promotion maps float64 to float32 there): the exact ANN's batch norm must agree with numpy's float64."""
    rng = np.random.default_rng(11)
    quant = QuantConfig(1, 2)
    params = finish_params(random_params(rng, SMALL_CONVS, 3, 10), rng, 12 * 12 * 8, 10)
    exact = build_network(10, quant, arch=SMALL, exact=True)
    assign_params(exact, params)
    images = rng.normal(size=(4, 24, 24, 3))
    conv = keras.Model(exact.input, exact.get_layer("conv00").output)
    norm = keras.Model(exact.input, exact.get_layer("bn00").output)
    m = to_numpy(conv(images)).astype(np.float64)
    _, beta, gamma, mean, var = (p.astype(np.float64) for p in params[:5])
    expected = gamma * (m - mean) / np.sqrt(var + 1e-5) + beta
    np.testing.assert_allclose(to_numpy(norm(images)), expected, rtol=1e-13, atol=1e-13)
