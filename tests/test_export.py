"""The integer form (int8 kernels, int32 thresholds) gives the simulator's spike counts neuron for neuron."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from synthetic import arch_of
from test_spiking import (
    dyadic_images,
    finish_params,
    network_case,
    networks,
    random_network_settings,
    random_params,
    simulate,
)

from quant_snn.architecture import VGG
from quant_snn.errors import UserError
from quant_snn.export import ALWAYS, NEVER, integer_network, integer_thresholds, run_integer
from quant_snn.quant_config import QuantConfig


def assert_same_as_simulator(params, quant, convs, images):
    _, potential, _, _, counts = simulate(params, quant, convs, images)
    net = integer_network(params, quant, arch_of(convs, images.shape[1:]))
    integer_counts, integer_potential = run_integer(net, images)
    for layer, (ours, theirs) in enumerate(zip(integer_counts, counts)):
        np.testing.assert_array_equal(ours, theirs, err_msg=f"layer {layer}")
    np.testing.assert_allclose(integer_potential, potential, rtol=1e-9, atol=1e-9)
    return net, integer_counts


@random_network_settings(off_tensorflow=10)
@given(networks())
def test_random_networks_integer_form_equals_simulator(network):
    quant, convs, params, rng, size, batch, _ = network_case(network)
    images = rng.normal(size=(batch, size, size, 3)).astype(np.float32)  # real-valued, like standardized images
    net, _ = assert_same_as_simulator(params, quant, convs, images)
    for layer in net.convs[1:]:
        assert layer.kernel.dtype == np.int8 and layer.thresholds.dtype == np.int32
        assert set(np.unique(layer.kernel)) <= {-1, 0, 1}


def test_full_vgg_with_negative_and_zero_gamma():
    rng = np.random.default_rng(7)
    quant = QuantConfig(1, 2)
    params = finish_params(random_params(rng, VGG.convs, 3, 10), rng, 512, 10)
    net, counts = assert_same_as_simulator(params, quant, VGG.convs, dyadic_images(rng, 2, 24))
    thresholds = np.concatenate([layer.thresholds for layer in net.convs[1:]])
    assert (thresholds == ALWAYS).any() and (thresholds == NEVER).any()  # gamma = 0 channels, both kinds
    assert any(0 < c.mean() < quant.n_thresholds for c in counts[1:])


def test_integer_thresholds_round_toward_firing_side():
    theta = np.array([[2.0, 2.5, -np.inf, np.inf], [2.0, 2.5, -0.5, np.inf]])
    direction = np.array([1.0, -1.0])
    # +1: m >= 2, m >= 3; always; never.  -1: -m >= -2 (m <= 2), -m >= -2 (m <= 2.5), -m >= 1 (m <= -0.5); never
    np.testing.assert_array_equal(integer_thresholds(theta, direction),
                                  [[2, 3, ALWAYS, NEVER], [-2, -2, 1, ALWAYS]])


def test_fp32_and_non_ternary_are_refused():
    rng = np.random.default_rng(1)
    params = finish_params(random_params(rng, VGG.convs, 3, 10), rng, 512, 10)
    with pytest.raises(UserError, match="FP32 network has no spiking form"):
        integer_network(params, QuantConfig(None, None))
    params[5] = params[5] * 0.5
    with pytest.raises(UserError, match="non-ternary"):
        integer_network(params, QuantConfig(1, 2))
