"""Gradient of ``sum(fn(x))`` on whichever Keras backend is active (the quantizers must be backend-agnostic)."""

from __future__ import annotations

import keras
import numpy as np


def gradient_of_sum(fn, x: np.ndarray) -> np.ndarray:
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        variable = tf.Variable(x)
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(fn(variable))
        return tape.gradient(total, variable).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: fn(v).sum())(x))
    if backend == "torch":
        import torch

        tensor = torch.tensor(x, requires_grad=True)
        fn(tensor).sum().backward()
        return tensor.grad.numpy()
    raise NotImplementedError(backend)
