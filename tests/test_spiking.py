"""The spiking simulator against a numpy reference and against the quantized ANN, neuron for neuron."""

from contextlib import contextmanager

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keras.ops import convert_to_numpy as to_numpy
from snn_oracle import im2col, run_oracle
from synthetic import arch_of

from quant_snn.architecture import VGG, ConvSpec
from quant_snn.model import build_network
from quant_snn.quant_config import QuantConfig
from quant_snn.quantizers import ActivationQuantizer, quantize_activation
from quant_snn.spiking_utils import build_spiking_model, window_coverage
from quant_snn.thresholds import fold_batchnorm
from quant_snn.weights import assign_params


def out_size(n, spec):
    return -(-n // spec.stride) if spec.padding == "same" else (n - spec.kernel) // spec.stride + 1


def random_params(rng, convs, in_channels, n_classes, zero_gamma=True, negative_gamma=True):
    """A random quantized network in the npz layout: dyadic conv00 kernel, ternary kernels, random batch norms."""
    params, cin = [], in_channels
    for i, spec in enumerate(convs):
        shape = (spec.kernel, spec.kernel, cin, spec.filters)
        # dyadic first-layer weights and inputs make conv00 exact in float32 and float64 alike
        kernel = rng.integers(-32, 33, shape) / 64 if i == 0 else rng.integers(-1, 2, shape).astype(float)
        scale = np.sqrt(spec.kernel * spec.kernel * cin)
        gamma = rng.normal(1.0, 0.5, spec.filters)
        if negative_gamma:
            gamma[rng.random(spec.filters) < 0.3] *= -1
        if zero_gamma:
            gamma[rng.random(spec.filters) < 0.2] = 0.0
        beta = rng.normal(0.5, 0.8, spec.filters)
        mean = rng.normal(0, 0.3 * scale, spec.filters)
        var = (0.4 * scale) ** 2 * np.exp(rng.normal(0, 0.3, spec.filters))
        params += [kernel, beta, gamma, mean, var]
        cin = spec.filters
    return [np.asarray(p, np.float32) for p in params]


def finish_params(params, rng, flat, n_classes):
    """Append the dense kernel once the flattened size is known."""
    return params + [rng.normal(size=(flat, n_classes)).astype(np.float32)]


def dyadic_images(rng, batch, size, channels=3):
    return (rng.integers(-40, 41, (batch, size, size, channels)) / 16).astype(np.float32)


@contextmanager
def float64_policy():
    """Layers built inside compute in float64 (on JAX this needs x64 mode, else float64 silently means float32)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    jax_x64 = None
    if keras.backend.backend() == "jax":
        import jax

        jax_x64 = jax.config.jax_enable_x64
        jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
        if jax_x64 is not None:
            jax.config.update("jax_enable_x64", jax_x64)



def ann_activations(params, quant, convs, images, n_classes):
    """2^k * every quantized activation and the logits of the quantized ANN, computed in float64."""
    with float64_policy():
        ann = build_network(n_classes, quant, arch_of(convs, images.shape[1:]))
        assign_params(ann, params)
        quantizers = [layer.output for layer in ann.layers if isinstance(layer, ActivationQuantizer)]
        probe = keras.Model(ann.input, quantizers + [ann.output])
        outputs = [to_numpy(o) for o in probe(images.astype(np.float64))]
    assert all(o.dtype == np.float64 for o in outputs[:-1]), "the reference ANN must really run in float64"
    # the logits in numpy: Keras 3.15's torch matmul computes float64 inputs in float32
    logits = outputs[-2].reshape(len(images), -1) @ params[-1].astype(np.float64)
    return [o * 2**quant.k for o in outputs[:-1]], logits


def simulate(params, quant, convs, images, **kwargs):
    snn = build_spiking_model(params, quant, arch=arch_of(convs, images.shape[1:]), return_counts=True, **kwargs)
    potential, spikes, fan_ins, counts = snn.model(images)
    return snn, to_numpy(potential), [to_numpy(s) for s in spikes], [to_numpy(f) for f in fan_ins], [
        to_numpy(c) for c in counts]


@st.composite
def networks(draw):
    k = draw(st.integers(0, 2))
    B = draw(st.sampled_from([1, 2, 4]))
    size = draw(st.integers(3, 7))
    convs, spatial, channels = [], size, 3
    for i in range(draw(st.integers(1, 4))):
        kernel = draw(st.integers(1, 3))
        padding = draw(st.sampled_from(["same", "valid"])) if kernel <= spatial else "same"
        spec = ConvSpec("conv00" if i == 0 else f"conv{i - 1}", draw(st.integers(1, 5)), kernel,
                        draw(st.integers(1, 2)), padding)
        convs.append(spec)
        spatial = out_size(spatial, spec)
        channels = spec.filters
    return (QuantConfig(k, float(B)), tuple(convs), size, spatial * spatial * channels,
            draw(st.integers(0, 2**32 - 1)), draw(st.integers(1, 3)), draw(st.integers(2, 5)))


def random_network_settings(off_tensorflow: int):
    """Hypothesis settings for ``networks()``: fewer examples off TensorFlow, where JAX compiles every new shape (the
    TensorFlow run of the suite does the 30; the others check that their backend runs the same simulator)."""
    return settings(max_examples=30 if keras.backend.backend() == "tensorflow" else off_tensorflow, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def network_case(network):
    """A drawn ``networks()`` example as (quant, convs, params, rng, size, batch, n_classes); ``rng`` continues
    after drawing the params, for the images."""
    quant, convs, size, flat, seed, batch, n_classes = network
    rng = np.random.default_rng(seed)
    params = finish_params(random_params(rng, convs, 3, n_classes), rng, flat, n_classes)
    return quant, convs, params, rng, size, batch, n_classes


@pytest.mark.backends
@random_network_settings(off_tensorflow=3)
@given(networks())
def test_random_networks_match_reference_and_ann_neuron_for_neuron(network):
    quant, convs, params, rng, size, batch, n_classes = network_case(network)
    images = dyadic_images(rng, batch, size)
    _, potential, spikes, fan_ins, counts = simulate(params, quant, convs, images)
    ref_counts, ref_fan_ins, ref_potential = run_oracle(params, quant.k, quant.n_thresholds, convs, images)
    ann_counts, ann_logits = ann_activations(params, quant, convs, images, n_classes)
    for layer, (c, ref, ann) in enumerate(zip(counts, ref_counts, ann_counts)):
        assert np.array_equal(c, np.round(c)) and c.min() >= 0 and c.max() <= quant.n_thresholds
        np.testing.assert_array_equal(c, ref, err_msg=f"simulator vs reference, layer {layer}")
        np.testing.assert_array_equal(c, ann, err_msg=f"simulator vs 2^k * ANN activation, layer {layer}")
        np.testing.assert_array_equal(spikes[layer], c.sum(axis=(1, 2, 3)))
    for f, ref in zip(fan_ins, ref_fan_ins[1:]):
        np.testing.assert_array_equal(f, ref)
    np.testing.assert_allclose(potential, ref_potential, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(potential, ann_logits * 2**quant.k, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(potential.argmax(1), ann_logits.argmax(1))


def test_full_vgg_with_negative_and_zero_gamma_matches_ann_and_reference():
    rng = np.random.default_rng(7)
    quant = QuantConfig(1, 2)
    params = finish_params(random_params(rng, VGG.convs, 3, 10), rng, 512, 10)
    gammas = np.concatenate([layer.gamma for layer in VGG.split_params(params)[0]])
    assert (gammas < 0).any() and (gammas == 0).any()
    images = dyadic_images(rng, 2, 24)
    _, potential, _, _, counts = simulate(params, quant, VGG.convs, images)
    ref_counts, _, _ = run_oracle(params, quant.k, quant.n_thresholds, VGG.convs, images)
    ann_counts, ann_logits = ann_activations(params, quant, VGG.convs, images, 10)
    busy = 0
    for c, ref, ann in zip(counts, ref_counts, ann_counts):
        np.testing.assert_array_equal(c, ref)
        np.testing.assert_array_equal(c, ann)
        busy += 0 < c.mean() < quant.n_thresholds
    assert busy >= 6  # the random network is not trivially silent or saturated
    np.testing.assert_array_equal(potential.argmax(1), ann_logits.argmax(1))


def test_thresholds_include_the_quantizer_offset():
    # gamma=1, beta=0, mean=0, var+eps=1: the ANN activation is the membrane potential itself (k=1)
    m_ann = np.float32(0.25 - 2e-6)  # rounds up only because of the +1e-5 offset
    assert float(quantize_activation(np.array([m_ann]), 1, 2)[0]) == 0.5
    folded = fold_batchnorm(np.zeros(1), np.ones(1), np.zeros(1), np.ones(1) - 1e-5, k=1, n=4)
    assert folded.theta[0, 0] < 2 * m_ann < 0.5  # 0.5 would be the original's threshold, which misses this spike
    np.testing.assert_allclose(folded.theta[0], [0.49999, 1.49999, 2.49999, 3.49999], rtol=0, atol=1e-9)


def test_negative_and_zero_gamma_fold():
    beta = np.array([0.3, 0.3, 0.8, -1.0])
    gamma = np.array([-2.0, 0.0, 0.0, 0.0])
    folded = fold_batchnorm(beta, gamma, np.zeros(4), np.ones(4), k=1, n=4)
    assert folded.direction.tolist() == [-1.0, 1.0, 1.0, 1.0]
    assert np.isneginf(folded.hi[1, 0]) and np.isposinf(folded.hi[1, 1])  # beta 0.3: one constant spike
    assert np.isneginf(folded.hi[2, :2]).all() and np.isposinf(folded.hi[2, 2:]).all()  # beta 0.8: two
    assert np.isposinf(folded.hi[3]).all()  # beta < 0: never fires
    assert (np.diff(folded.theta[0]) < 0).all()  # gamma < 0: thresholds decrease, the neuron fires below them


def test_window_coverage_counts_im2col_windows():
    for size, kernel, stride, padding in [(24, 3, 1, "same"), (24, 2, 2, "same"), (3, 3, 1, "valid"),
                                          (7, 3, 2, "same")]:
        pixel_ids = np.arange(1, size * size + 1, dtype=float).reshape(1, size, size, 1)  # 0 marks padding
        patches = im2col(pixel_ids, kernel, stride, padding)
        expected = np.zeros(size * size)
        np.add.at(expected, patches[patches > 0].astype(int) - 1, 1)
        np.testing.assert_array_equal(window_coverage((size, size), kernel, stride, padding).ravel(), expected)


def noisy_first_layer(params, quant, convs, images, ratio, seed, layers="first"):
    _, _, spikes, _, _ = simulate(params, quant, convs, images, noise_ratio=ratio, seed=seed, noise_layers=layers)
    return np.array([s.sum() for s in spikes])


@pytest.fixture(scope="module")
def small_network():
    rng = np.random.default_rng(3)
    convs = (ConvSpec("conv00", 16, 3), ConvSpec("conv0", 8, 3), ConvSpec("conv1", 4, 2, 2))
    params = finish_params(random_params(rng, convs, 3, 10, zero_gamma=False), rng, 4 * 4 * 4, 10)
    return QuantConfig(1, 2), convs, params, dyadic_images(rng, 8, 8)


@pytest.mark.backends
def test_noise_zero_is_deterministic_and_noise_removes_about_p(small_network):
    quant, convs, params, images = small_network
    clean = noisy_first_layer(params, quant, convs, images, 0.0, seed=None)
    np.testing.assert_array_equal(clean, noisy_first_layer(params, quant, convs, images, 0.0, seed=None))
    assert clean[0] > 1000
    for p in (0.1, 0.5):
        noisy = noisy_first_layer(params, quant, convs, images, p, seed=1)
        kept = noisy[0] / clean[0]
        assert abs(kept - (1 - p)) < 4 * np.sqrt(p * (1 - p) / clean[0])


@pytest.mark.backends
def test_seeded_noise_repeats_exactly_and_seed_matters(small_network):
    quant, convs, params, images = small_network
    a = simulate(params, quant, convs, images, noise_ratio=0.2, seed=5)[4]
    b = simulate(params, quant, convs, images, noise_ratio=0.2, seed=5)[4]
    c = simulate(params, quant, convs, images, noise_ratio=0.2, seed=6)[4]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.backends
def test_noise_layers_all_thins_later_layers_too(small_network):
    quant, convs, params, images = small_network
    first = build_spiking_model(params, quant, arch=arch_of(convs, (8, 8, 3)), noise_ratio=0.3, noise_layers="first")
    every = build_spiking_model(params, quant, arch=arch_of(convs, (8, 8, 3)), noise_ratio=0.3, noise_layers="all")
    noisy = lambda snn: [layer.noise_ratio for layer in snn.model.layers if hasattr(layer, "noise_ratio")]  # noqa: E731
    assert noisy(first) == [0.3, 0.0, 0.0] and noisy(every) == [0.3, 0.3, 0.3]
    clean = simulate(params, quant, convs, images)[4]
    thinned = simulate(params, quant, convs, images, noise_ratio=0.3, seed=2, noise_layers="all")[4]
    assert thinned[2].sum() < clean[2].sum()
