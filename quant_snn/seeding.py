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

from .errors import UserError

# Training seeds each epoch with seed + epoch, and NumPy and the backends take 32-bit seeds: a margin below 2^31.
MAX_SEED = 2**31 - 2**16
MAX_EPOCHS = 2**16 - 1  # so that seed + epoch stays a valid seed


def check_seed(seed: int) -> None:
    """Refuse a seed the generators would reject later (after a lock is taken, or in the middle of a run)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise UserError(f"--seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}")


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


__all__ = ["MAX_EPOCHS", "MAX_SEED", "check_seed", "set_seed"]
