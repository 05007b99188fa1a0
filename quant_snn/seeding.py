"""One seed for Python, NumPy, Keras and the backend, without importing TensorFlow on JAX or PyTorch.

``keras.utils.set_random_seed`` also seeds TensorFlow whenever it is installed, which imports it (seconds of
start-up and, on a GPU, a second framework beside the one that trains). Off TensorFlow we do the same steps
ourselves, minus that one, through Keras's internal global seed state (``keras.src``, not public API:
tests/test_model.py checks on every backend that a seed fixes the initial weights).
"""

from __future__ import annotations

import random

import keras
import numpy as np


def set_seed(seed: int) -> None:
    """Seed Python's and NumPy's generators, Keras's global seed generator and the backend's own generator."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
    if backend == "torch":
        import torch

        torch.manual_seed(seed)


__all__ = ["set_seed"]
