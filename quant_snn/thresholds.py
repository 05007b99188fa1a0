"""Batch norm folded into the 2^k*B thresholds of a spiking neuron, exactly.

The ANN computes ``q = round(clip(relu(bn(m_ann)), 0, B) * 2^k + 1e-5) / 2^k`` with
``bn(m) = gamma * (m - mean) / sqrt(var + eps) + beta``. The spiking neuron integrates ``m = 2^k * m_ann`` and
its count ``2^k * q`` is the number of levels ``a_i = (i + 1/2 - 1e-5) / 2^k`` (i = 0 .. n-1) that ``bn`` reaches:

    gamma > 0:  fires at threshold i  iff  m >= theta_i
    gamma < 0:  fires at threshold i  iff  m <= theta_i   (the inequality flips)
    gamma = 0:  bn is the constant beta: fires at i for every input iff beta >= a_i
    theta_i = 2^k * ((a_i - beta) * sqrt(var + eps) / gamma + mean)

The +1e-5 inside ``a_i`` is the ANN quantizer's rounding offset; the original formula left it out, which made
its SNN disagree with its own ANN. Thresholds are computed in float64 and stored as float32 pairs
``hi + lo`` (``hi = f32(theta)``, ``lo = f32(theta - hi)``); the test ``direction * (m - hi) >= direction * lo``
in float32 decides ``m >= theta`` as float64 would, because ``m - hi`` is exact whenever it is small enough to
matter (Sterbenz). So a neuron's decision depends only on ``m``, on any backend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import UserError
from .quant_config import BN_EPSILON, ROUNDING_OFFSET


@dataclass(frozen=True)
class FoldedThresholds:
    """Per channel (C) and threshold (n): float32 ``hi``, ``lo`` (C, n) and ``direction`` (C,) of +1/-1."""

    hi: np.ndarray
    lo: np.ndarray
    direction: np.ndarray

    @property
    def theta(self) -> np.ndarray:
        """The thresholds in float64 (for reports and reference code)."""
        return self.hi.astype(np.float64) + self.lo.astype(np.float64)


def threshold_levels(k: int, n: int, rounding_offset: float = ROUNDING_OFFSET) -> np.ndarray:
    """The ANN activations ``a_i = (i + 1/2 - 1e-5) / 2^k`` at which the quantizer steps up."""
    return (np.arange(n, dtype=np.float64) + 0.5 - rounding_offset) / 2.0**k


def fold_batchnorm(
    beta: np.ndarray, gamma: np.ndarray, mean: np.ndarray, var: np.ndarray, k: int, n: int, eps: float = BN_EPSILON,
    rounding_offset: float = ROUNDING_OFFSET,
) -> FoldedThresholds:
    """Fold one batch norm (per-channel vectors) into ``n = 2^k * B`` thresholds per channel.

    ``rounding_offset=0`` gives the original code's thresholds, which leave the ANN's offset out (for comparisons
    with its simulator; they disagree with the ANN where a batch-norm output lies within 1e-5 / 2^k below a step)."""
    beta, gamma, mean, var = (np.asarray(v, dtype=np.float64)[:, None] for v in (beta, gamma, mean, var))
    if not np.all(np.isfinite(np.concatenate([beta, gamma, mean, var]))):
        raise UserError("batch-norm parameters contain NaN or infinity: the weights file is broken")
    if np.any(var + eps <= 0):
        raise UserError("a batch-norm moving variance is below -epsilon: the weights file is broken")
    levels = threshold_levels(k, n, rounding_offset)[None, :]
    scale = 2.0**k
    safe_gamma = np.where(gamma == 0, 1.0, gamma)
    theta = scale * ((levels - beta) * np.sqrt(var + eps) / safe_gamma + mean)
    constant_on = np.broadcast_to(beta >= levels, theta.shape)  # gamma == 0: fires always (-inf) or never (+inf)
    theta = np.where(gamma == 0, np.where(constant_on, -np.inf, np.inf), theta)
    theta = np.where(np.abs(theta) > 1e38, np.sign(theta) * np.inf, theta)  # beyond float32: never/always reached
    with np.errstate(invalid="ignore"):
        hi = theta.astype(np.float32)
        lo = np.where(np.isfinite(theta), theta - hi.astype(np.float64), 0.0).astype(np.float32)
    direction = np.where(gamma[:, 0] < 0, -1.0, 1.0).astype(np.float32)
    return FoldedThresholds(hi=hi, lo=lo, direction=direction)
