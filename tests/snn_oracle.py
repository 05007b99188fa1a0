"""A plain reference spiking network: numpy float64, im2col, one comparison per threshold.

Written from docs/DESIGN.md's formulas (with the quantizer's +1e-5 offset folded in) and independent of the package's
simulator, so the tests can use it as an oracle (it shares only the reading of the npz layout,
``Architecture.split_params``). Slow on purpose: clarity over speed.
"""

from __future__ import annotations

import numpy as np

from quant_snn.architecture import VGG


def im2col(x: np.ndarray, kernel: int, stride: int, padding: str) -> np.ndarray:
    """(B, H, W, C) -> (B, Ho, Wo, kernel*kernel*C) patches, TensorFlow's padding rules, (dy, dx, c) order."""
    b, h, w, c = x.shape
    if padding == "same":
        ho, wo = -(-h // stride), -(-w // stride)
        pad_h, pad_w = max((ho - 1) * stride + kernel - h, 0), max((wo - 1) * stride + kernel - w, 0)
        x = np.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    else:
        ho, wo = (h - kernel) // stride + 1, (w - kernel) // stride + 1
    patches = np.empty((b, ho, wo, kernel * kernel * c), dtype=np.float64)
    for i in range(ho):
        for j in range(wo):
            window = x[:, i * stride : i * stride + kernel, j * stride : j * stride + kernel, :]
            patches[:, i, j, :] = window.reshape(b, -1)
    return patches


def spike_counts(mem: np.ndarray, beta, gamma, mean, var, k: int, n: int, eps: float = 1e-5) -> np.ndarray:
    """Number of thresholds each neuron reaches; gamma < 0 flips the comparison, gamma == 0 is constant."""
    counts = np.zeros(mem.shape, dtype=np.int64)
    for i in range(n):
        level = (i + 0.5 - 1e-5) / 2**k
        for c in range(mem.shape[-1]):
            if gamma[c] == 0:
                fired = np.full(mem.shape[:-1], beta[c] >= level)
            else:
                theta = 2**k * ((level - beta[c]) * np.sqrt(var[c] + eps) / gamma[c] + mean[c])
                fired = mem[..., c] >= theta if gamma[c] > 0 else mem[..., c] <= theta
            counts[..., c] += fired
    return counts


def run_oracle(params: list[np.ndarray], k: int, n: int, convs, images: np.ndarray):
    """Returns (spike counts per layer, sum(im2col(input)) per layer and image, output-layer potential)."""
    x = images.astype(np.float64) * 2**k
    counts, fan_ins = [], []
    layers, dense = VGG.variant(tuple(convs), images.shape[1:]).split_params(params)
    for layer in layers:
        spec = layer.spec
        kernel, beta, gamma, mean, var = (np.asarray(a, np.float64) for a in (
            layer.kernel, layer.beta, layer.gamma, layer.moving_mean, layer.moving_variance))
        patches = im2col(x, spec.kernel, spec.stride, spec.padding)
        fan_ins.append(patches.sum(axis=(1, 2, 3)))
        mem = patches @ kernel.reshape(-1, kernel.shape[-1])
        x = spike_counts(mem, beta, gamma, mean, var, k, n).astype(np.float64)
        counts.append(x.astype(np.int64))
    potential = x.reshape(len(x), -1) @ np.asarray(dense, np.float64)
    return counts, fan_ins, potential
