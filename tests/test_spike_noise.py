"""Spike-drop noise drawn by inverting the binomial CDF: the right distribution, never a spike added, seeded."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from quant_snn.spike_noise import UNREACHED, binomial_cdf_table, drop_spikes, uniform

pytestmark = pytest.mark.backends  # make test runs this file on TensorFlow, JAX and PyTorch


def test_table_rows_are_binomial_cdfs():
    table = binomial_cdf_table(4, 0.25)
    assert table.shape == (5, 4) and table.dtype == np.float32
    for c in range(5):
        expected = np.cumsum([math.comb(c, s) * 0.75**s * 0.25 ** (c - s) for s in range(c + 1)])[:c]
        np.testing.assert_allclose(table[c, :c], expected, rtol=1e-6)
        assert np.all(table[c, c:] == UNREACHED)
    with pytest.raises(ValueError, match="drop probability"):
        binomial_cdf_table(4, 1.0)


@pytest.mark.parametrize("n, drop", [(4, 0.1), (4, 0.5), (8, 0.2), (1, 0.3)])
def test_survivors_follow_binomial_c_1_minus_p(n, drop):
    """Per emitted count c, the surviving counts have the Binomial(c, 1 - p) frequencies (5-sigma bands)."""
    per_count = 40_000
    counts = np.repeat(np.arange(n + 1, dtype=np.float32), per_count)
    u = keras.ops.convert_to_numpy(uniform((counts.size,), keras.random.SeedGenerator(7)))
    survivors = keras.ops.convert_to_numpy(drop_spikes(counts, binomial_cdf_table(n, drop), u))
    assert survivors.dtype == np.float32
    assert np.all(survivors <= counts) and np.all(survivors[counts == 0] == 0)
    for c in range(n + 1):
        got = np.bincount(survivors[counts == c].astype(int), minlength=c + 1)[: c + 1] / per_count
        pmf = np.array([math.comb(c, s) * (1 - drop) ** s * drop ** (c - s) for s in range(c + 1)])
        band = 5 * np.sqrt(pmf * (1 - pmf) / per_count) + 1e-12
        assert np.all(np.abs(got - pmf) <= band), (c, got, pmf)


def test_uniforms_are_in_unit_interval_seeded_and_advance():
    a = keras.ops.convert_to_numpy(uniform((1000,), keras.random.SeedGenerator(3)))
    generator = keras.random.SeedGenerator(3)
    b = keras.ops.convert_to_numpy(uniform((1000,), generator))
    c = keras.ops.convert_to_numpy(uniform((1000,), generator))
    assert a.min() >= 0 and a.max() < 1 and abs(a.mean() - 0.5) < 0.05
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_zero_drop_keeps_every_spike():
    counts = np.array([0, 1, 2, 3, 4], np.float32)
    u = np.array([0.0, 0.5, 0.9999999, 0.3, 0.0], np.float32)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(drop_spikes(counts, binomial_cdf_table(4, 0.0), u)),
                                  counts)
