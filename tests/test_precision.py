"""full_float32(): TF32 off inside, the previous setting restored after, on whichever backend runs."""

import keras
import pytest

from quant_snn.precision import full_float32

pytestmark = pytest.mark.backends  # make test runs this file on TensorFlow, JAX and PyTorch


def tf32_state():
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.config.jax_default_matmul_precision
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.config.experimental.tensor_float_32_execution_enabled()
    import torch

    return (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)


FULL = {"jax": "highest", "tensorflow": False, "torch": (False, False)}


def test_full_float32_inside_and_restored_after():
    before = tf32_state()
    with full_float32():
        assert tf32_state() == FULL[keras.backend.backend()]
    assert tf32_state() == before


def test_restored_after_an_error():
    before = tf32_state()
    with pytest.raises(RuntimeError):
        with full_float32():
            raise RuntimeError("boom")
    assert tf32_state() == before
