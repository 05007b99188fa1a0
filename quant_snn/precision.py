"""Full float32 arithmetic for every path that checks exactness (TF32 off on GPUs), the optional mixed-precision
training policy, and inference compilation."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras

from .errors import UserError

# Training precisions: mixed_bfloat16 computes convolutions in bfloat16 with float32 variables; batch-norm
# statistics, the class scores (dense layer) and the loss stay float32. Evaluation and the SNN are always float32.
PRECISIONS = ("float32", "mixed_bfloat16")


def enable_float64() -> None:
    """Let float64 be float64: JAX computes it only in x64 mode (otherwise silently in float32). The exact paths
    (the spiking network's first layer and output, the exact ANN) need it; other layers keep their own dtypes."""
    if keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            jax.config.update("jax_enable_x64", True)


def check_precision(name: str) -> str:
    if name not in PRECISIONS:
        raise UserError(f"unknown --precision {name!r}: use one of {', '.join(PRECISIONS)}")
    return name


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Layers created inside use the Keras dtype policy ``name``; the previous global policy comes back after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(check_precision(name))
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def use_full_float32() -> None:
    """Turn off TF32 matmuls/convolutions: with TF32 a k1B2 model agreed with itself on only 95.6% of images."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(False)
    elif backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")
    elif backend == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


@contextlib.contextmanager
def full_float32() -> Iterator[None]:
    """TF32 off inside, the previous setting back after: the per-epoch test of the npz during GPU training is then
    the exact float32 figure (with TF32 it read 86.08% on an H200 where the CPU's float32 gave 85.76%)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        with jax.default_matmul_precision("highest"):
            yield
    elif backend == "tensorflow":
        import tensorflow as tf

        previous = tf.config.experimental.tensor_float_32_execution_enabled()
        tf.config.experimental.enable_tensor_float_32_execution(False)
        try:
            yield
        finally:
            tf.config.experimental.enable_tensor_float_32_execution(previous)
    elif backend == "torch":
        import torch

        previous = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous
    else:
        yield


def compile_for_inference(model: keras.Model, xla: bool = True) -> keras.Model:
    """Compile for ``predict_on_batch``: XLA on TensorFlow (fuses the threshold counting; ~1.3-2x faster on CPU
    for both ANN and SNN) and JAX; eager on PyTorch, where ``torch.compile`` start-up would dominate.
    ``xla=False``: TensorFlow runs its graph without XLA (to check that the results do not depend on it)."""
    model.compile(jit_compile=xla and keras.backend.backend() in ("tensorflow", "jax"))
    return model
