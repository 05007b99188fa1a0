import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy
from synthetic import SMALL

from quant_snn.architecture import VGG
from quant_snn.layers import QuantConv2D
from quant_snn.model import build_network, conv_layers
from quant_snn.quant_config import FP32, QuantConfig
from quant_snn.quantizers import ActivationQuantizer
from quant_snn.train import build_training_model


@pytest.mark.parametrize("n_classes,count", [(10, 5_079_232), (100, 5_125_312)])
def test_parameter_count_and_output_shape(n_classes, count):
    model = build_network(n_classes, QuantConfig(1, 2))
    assert model.count_params() == count  # includes the batch-norm statistics
    assert model.output_shape == (None, n_classes)
    assert [layer.name for layer in conv_layers(model)] == [spec.name for spec in VGG.convs]


def test_layer_shapes_follow_the_design():
    model = build_network(10, QuantConfig(1, 2))
    sizes = [model.get_layer(spec.name).output.shape[1:] for spec in VGG.convs]
    assert sizes[:3] == [(24, 24, 64)] * 3 and sizes[3] == (12, 12, 64)
    assert (sizes[4] == (12, 12, 128) and sizes[6] == (6, 6, 128) and sizes[9] == (3, 3, 256)
            and sizes[10] == (3, 3, 512) and sizes[11] == (1, 1, 512))


def test_only_conv0_to_conv10_are_ternary_and_activations_are_quantized():
    model = build_network(10, QuantConfig(1, 2))
    convs = conv_layers(model)
    assert convs[0].kernel_quantizer is None
    assert all(conv.kernel_quantizer is not None for conv in convs[1:])
    quantizers = [layer for layer in model.layers if isinstance(layer, ActivationQuantizer)]
    assert len(quantizers) == 12 and all((q.k, q.B) == (1, 2.0) for q in quantizers)
    x = np.random.default_rng(0).normal(size=(2, 24, 24, 3)).astype(np.float32)
    import keras

    probe = keras.Model(model.input, quantizers[4].output)
    values = to_numpy(probe(x))
    assert np.isin(values, [0.0, 0.5, 1.0, 1.5, 2.0]).all()


def test_fp32_network_has_no_quantization():
    model = build_network(10, FP32)
    assert not any(isinstance(layer, ActivationQuantizer) for layer in model.layers)
    assert all(layer.kernel_quantizer is None for layer in model.layers if isinstance(layer, QuantConv2D))
    assert model.count_params() == 5_079_232


@pytest.mark.backends
@pytest.mark.parametrize("size,kernel,stride,padding", [(3, 3, 1, "same"), (3, 3, 1, "valid"), (3, 2, 2, "same"),
                                                        (2, 3, 1, "same")])
def test_small_inputs_convolve_as_a_matrix_product_with_the_same_sums(size, kernel, stride, padding):
    """Inputs of at most 3x3 pixels (the VGG-Net's last two layers) take conv_as_matmul; spike-like inputs and a
    ternary kernel make every sum exact, so both paths must agree bit for bit."""
    rng = np.random.default_rng(size + kernel + stride)
    x = (rng.integers(0, 5, (2, size, size, 4)) / 2).astype("float32")
    layers = {}
    for name, limit in (("native", 0), ("matmul", 3)):
        layers[name] = QuantConv2D(6, kernel, strides=stride, padding=padding, use_bias=False)
        layers[name].build(x.shape)
        layers[name].kernel.assign(rng.integers(-1, 2, (kernel, kernel, 4, 6)).astype("float32") if name == "native"
                                   else layers["native"].kernel)
        layers[name].matmul_max_input = limit
    assert layers["matmul"]._as_matmul(x, layers["matmul"].kernel)
    assert not layers["native"]._as_matmul(x, layers["native"].kernel)
    assert not layers["matmul"]._as_matmul(np.zeros((1, 4, 4, 4), "float32"), layers["matmul"].kernel)
    assert not layers["matmul"]._as_matmul(keras.KerasTensor((None, None, None, 4)), layers["matmul"].kernel)
    native, matmul = (to_numpy(layers[name](x)) for name in ("native", "matmul"))
    assert native.shape == matmul.shape and np.abs(native).max() > 0
    np.testing.assert_array_equal(matmul, native)


@pytest.mark.backends
def test_mixed_precision_computes_in_bfloat16_with_float32_variables_and_scores():
    model, core = build_training_model(10, QuantConfig(1, 2), seed=0, precision="mixed_bfloat16", arch=SMALL)
    assert core.get_layer("conv1").compute_dtype == "bfloat16"
    assert core.get_layer("quant1").compute_dtype == "bfloat16"
    assert core.get_layer("dense").compute_dtype == "float32" and model.layers[0].compute_dtype == "float32"
    assert {v.dtype for v in model.variables if v.dtype.startswith("float")} == {"float32"}
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    assert keras.backend.standardize_dtype(model(x).dtype) == "float32"
    fresh, fresh_core = build_training_model(10, QuantConfig(1, 2), seed=0, arch=SMALL)  # no leak
    assert fresh_core.get_layer("conv1").compute_dtype == "float32"


@pytest.mark.backends
def test_set_seed_fixes_the_initial_weights_on_every_backend():
    from quant_snn.seeding import set_seed

    weights = []
    for seed in (3, 3, 4):
        set_seed(seed)
        weights.append(build_network(10, QuantConfig(1, 2), SMALL).get_layer("conv1").kernel)
    first, again, other = (to_numpy(w) for w in weights)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
