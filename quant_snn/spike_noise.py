"""Spike-drop noise: each emitted spike is lost independently with probability p, drawn at full speed.

A neuron that reaches ``c`` of its thresholds emits ``c`` spikes in the step; losing each with probability ``p``
leaves ``S ~ Binomial(c, 1 - p)`` of them. Drawing one uniform ``u`` per neuron and inverting the binomial CDF,

    S = #{ j in 0..n-1 : u >= F_c(j) },   F_c(j) = P(Binomial(c, 1 - p) <= j) for j < c,  F_c(j) = 2 for j >= c,

gives exactly that distribution (up to float32 rounding of F, < 2^-24 per probability) from one random number per
neuron instead of one per threshold: n = 2^k * B times fewer (4 for k1B2).

The uniforms come from ``keras.random`` on every backend except TensorFlow under XLA, where the stateless
``auto_select`` algorithm that Keras uses runs at about 2 M numbers/s on this 2-core CPU against about 140 M/s for
the explicit Philox algorithm (``bench/snn_throughput.py --noise``); there the same seed generator feeds
``tf.random.stateless_uniform(alg="philox")``.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

UNREACHED = 2.0  # above every uniform in [0, 1): thresholds a neuron did not reach


def binomial_cdf_table(n: int, drop: float) -> np.ndarray:
    """``(n + 1, n)`` float32 table: row ``c`` holds ``P(Binomial(c, 1 - drop) <= j)`` for ``j < c``, else UNREACHED."""
    if not 0.0 <= drop < 1.0:
        raise ValueError(f"drop probability must be in [0, 1), got {drop}")
    keep = 1.0 - drop
    table = np.full((n + 1, n), UNREACHED, dtype=np.float64)
    for c in range(n + 1):
        pmf = [math.comb(c, s) * keep**s * drop ** (c - s) for s in range(c + 1)]
        table[c, :c] = np.cumsum(pmf)[:c]
    return table.astype(np.float32)


def uniform(shape: tuple, seed_generator: keras.random.SeedGenerator):
    """Uniform float32 numbers in [0, 1) from ``seed_generator`` (Philox on TensorFlow, see the module docstring)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        seed = tf.cast(tf.math.floormod(seed_generator.next(), tf.int32.max - 1), tf.int32)
        return tf.random.stateless_uniform(shape, seed=seed, dtype=tf.float32, alg="philox")
    return keras.random.uniform(shape, seed=seed_generator)


def drop_spikes(counts, table, uniforms):
    """Spike counts after the drop: ``counts`` (float, integer values 0..n), ``table`` from binomial_cdf_table,
    one uniform per neuron (same shape as ``counts``). Never adds a spike; a silent neuron stays silent."""
    bounds = ops.take(table, ops.cast(counts, "int32"), axis=0)
    return ops.sum(ops.cast(ops.expand_dims(uniforms, -1) >= bounds, "float32"), axis=-1)
