import keras
import numpy as np
import pytest
from gradients import gradient_of_sum
from keras.ops import convert_to_numpy as to_numpy

from quant_snn.layers import QuantConv2D
from quant_snn.quantizers import ActivationQuantizer, TernaryQuantizer, quantize_activation, ternarize

pytestmark = pytest.mark.backends  # make test runs this file on TensorFlow, JAX and PyTorch


def test_ternarize_known_values():
    w = np.array([1.0, -1.0, 0.1, 0.5, -0.3, -0.4], dtype=np.float32)  # t = 0.7 * mean|w| = 0.385
    assert to_numpy(ternarize(w)).tolist() == [1.0, -1.0, 0.0, 1.0, 0.0, -1.0]


def test_ternarize_matches_threshold_rule_and_is_idempotent():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 3, 8, 16)).astype(np.float32)
    q = to_numpy(ternarize(w))
    t = 0.7 * np.abs(w).mean()
    expected = np.where(w >= t, 1.0, np.where(w <= -t, -1.0, 0.0))
    np.testing.assert_array_equal(q, expected)
    np.testing.assert_array_equal(to_numpy(ternarize(q)), q)


@pytest.mark.parametrize("k,B", [(0, 1), (0, 2), (1, 2), (2, 4)])
def test_activation_levels_exact(k, B):
    rng = np.random.default_rng(k * 10 + B)
    x = rng.uniform(-1, B + 2, size=4000).astype(np.float32)
    q = to_numpy(quantize_activation(x, k, B))
    levels = np.arange(-B * 2**k, B * 2**k + 1) / 2**k
    assert np.isin(q, levels).all()  # exact level values, no straight-through residue
    assert q.max() == B and q.min() >= -B
    np.testing.assert_array_equal(q, np.round(np.clip(x, -B, B) * 2**k + 1e-5) / 2**k)


def test_fused_relu_equals_relu_then_quantize():
    x = np.random.default_rng(5).uniform(-3, 5, size=3000).astype(np.float32)
    fused = to_numpy(quantize_activation(x, 1, 2, relu=True))
    np.testing.assert_array_equal(fused, to_numpy(quantize_activation(np.maximum(x, 0), 1, 2)))
    grad = gradient_of_sum(lambda v: quantize_activation(v, 1, 2, relu=True), np.array([-1.0, 0.5, 3.0], np.float32))
    np.testing.assert_array_equal(grad, [0.0, 1.0, 0.0])


def test_activation_rounding_offset_breaks_ties_upward():
    # k=1: the step from 0 to 0.5 sits at x = 0.25 - 1e-5/2 (the +1e-5 offset), not at 0.25
    x = np.array([0.24, 0.25, 0.2499, 0.75, 1.9, 7.0, -0.3], dtype=np.float32)
    assert to_numpy(quantize_activation(x, 1, 2)).tolist() == [0.0, 0.5, 0.0, 1.0, 2.0, 2.0, -0.5]


def test_straight_through_gradients():
    x = np.array([-3.0, -1.0, 0.1, 0.26, 1.5, 2.5, 9.0], dtype=np.float32)
    grad = gradient_of_sum(lambda v: quantize_activation(v, 1, 2), x)
    np.testing.assert_array_equal(grad, [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0])  # clip mask, rounding is identity
    w = np.random.default_rng(1).normal(size=(2, 2, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(gradient_of_sum(ternarize, w), np.ones_like(w))


def test_quantizers_serialize():
    quantizer = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(TernaryQuantizer(0.5)))
    assert isinstance(quantizer, TernaryQuantizer) and quantizer.threshold_factor == 0.5
    layer = ActivationQuantizer.from_config(ActivationQuantizer(2, 4.0, relu=True).get_config())
    assert (layer.k, layer.B, layer.relu) == (2, 4.0, True)


def test_quant_conv_uses_ternary_kernel_and_survives_saving(tmp_path):
    inputs = keras.Input((6, 6, 2))
    conv = QuantConv2D(3, 3, use_bias=False, kernel_quantizer=TernaryQuantizer(), name="qc")
    model = keras.Model(inputs, ActivationQuantizer(1, 2)(conv(inputs)))
    x = np.random.default_rng(2).normal(size=(2, 6, 6, 2)).astype(np.float32)
    reference = keras.ops.conv(x, ternarize(conv.kernel), padding="valid")
    np.testing.assert_allclose(to_numpy(conv(x)), to_numpy(reference), rtol=1e-6, atol=1e-6)
    assert set(np.unique(to_numpy(conv.quantized_kernel()))) <= {-1.0, 0.0, 1.0}
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(again(x)), to_numpy(model(x)))
    before = to_numpy(model(x))
    conv.freeze_quantized_kernel()  # inference: the quantized kernel stored once, the same outputs bit for bit
    assert conv.kernel_quantizer is None
    assert set(np.unique(to_numpy(conv.kernel))) <= {-1.0, 0.0, 1.0}
    np.testing.assert_array_equal(to_numpy(model(x)), before)
