"""``--loop device``: on JAX, the training set kept on the accelerator and up to an epoch of steps per compiled call.

Why: ``model.fit`` on JAX calls the compiled step from Python once per batch (Keras 3's ``steps_per_execution``
is a Python loop there) and feeds every batch from host memory; measured on one H200, one network alone then kept
the GPU 40-50% busy. Here the uint8 training set is copied to the device once; each call gets only the batch's
indices, and with ``steps_per_call`` N > 1 a ``jax.lax.scan`` runs N full batches in one compiled call (N = an
epoch's batches: one call an epoch, plus one for a last partial batch). The steps are Keras' own
``model.train_step`` (loss, optimizer update, metrics, augmentation draws), on the batches ``fit`` would take: each
epoch's order is ``np.random.permutation`` of NumPy's global generator, drawn where Keras' array adapter draws it.
One step per call gives the plain path's weights bit for bit; inside a scan XLA may round differently (a few units
in the last place after a few steps on the CPU; tests/test_train.py). On a CPU keep one step per call: XLA runs
convolutions inside a compiled loop far slower there (jax-ml/jax#12868). The callbacks see what ``fit`` shows them
at an epoch's begin and end; there are no per-batch callbacks or progress-bar steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from .errors import UserError

LOOPS = ("fit", "device")


def check_loop(loop: str, distribute: bool = False) -> None:
    """Refuse a loop this backend or run cannot take, in one line, before anything is trained."""
    if loop not in LOOPS:
        raise UserError(f"unknown --loop {loop!r}: use {' or '.join(LOOPS)}")
    if loop == "device" and keras.backend.backend() != "jax":
        raise UserError(f"--loop device needs the JAX backend (this is {keras.backend.backend()}): it calls JAX's "
                        "compiler itself (set KERAS_BACKEND=jax, or use --loop fit)")
    if loop == "device" and distribute:
        raise UserError("--loop device trains on one device: it cannot be combined with --distribute True")


def _variable_groups(model: keras.Model) -> tuple[list, list, list, list]:
    """The four groups of variables Keras' JAX ``train_step`` takes values of and returns, in its order."""
    return (model.trainable_variables, model.non_trainable_variables, model.optimizer.variables,
            model.metrics_variables)


def train_state(model: keras.Model) -> tuple[list, list, list, list]:
    """The values of those four groups: the state ``train_step`` takes."""
    return tuple([v.value for v in group] for group in _variable_groups(model))


def _assign(model: keras.Model, state: tuple[list, list, list, list]) -> None:
    for variables, values in zip(_variable_groups(model), state, strict=True):
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)


def _programs(model: keras.Model):
    """(a scan over several full batches, one step), both compiled, the state donated."""
    import jax

    def step(state, x, y, indices):
        return model.train_step(state, (x[indices].astype("float32"), y[indices]))[1]

    def steps(state, x, y, batches):
        return jax.lax.scan(lambda carry, indices: (step(carry, x, y, indices), None), state, batches)[0]

    return jax.jit(steps, donate_argnums=0), jax.jit(step, donate_argnums=0)


def fit_on_device(
    model: keras.Model, x: np.ndarray, y: np.ndarray, *, batch_size: int, epochs: int, initial_epoch: int = 0,
    steps_per_call: int = 1, callbacks: Sequence[keras.callbacks.Callback] = (), verbose: int | str = "auto",
) -> None:
    """Train a compiled model like ``model.fit(x, y, batch_size, epochs, initial_epoch, shuffle=True)`` on JAX,
    ``steps_per_call`` full batches per compiled call (a ``jax.lax.scan``; at most an epoch's)."""
    import jax

    n = len(x)
    full, rest = divmod(n, batch_size)
    chunk = max(1, min(steps_per_call, full))
    if chunk > 1 and jax.default_backend() == "cpu":
        print(f"note: {chunk} steps per compiled call on a CPU: XLA:CPU runs convolutions inside a compiled loop far "
              "slower (jax-ml/jax#12868); --steps_per_execution 1 gives the same training faster here", flush=True)
    # fit builds what is not built yet (metrics, loss) from a first batch, drawing one permutation it never uses
    unbuilt = not all(layer.built for layer in model._flatten_layers()) or any(
        part is not None and not part.built for part in (model._compile_metrics, model._compile_loss))
    if unbuilt:  # keras.src internals, as Model.fit on JAX does them (tests/test_train.py holds us to fit's weights)
        first = np.random.permutation(n)[:batch_size]
        model._symbolic_build(data_batch=(x[first].astype(np.float32), y[first]))
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    x_device, y_device = jax.device_put(x), jax.device_put(y)  # images stay uint8 on the device: 4x less memory
    several_steps, one_step = _programs(model)
    callback_list = keras.callbacks.CallbackList(list(callbacks), add_history=False, add_progbar=verbose != 0,
                                                 verbose=verbose, epochs=epochs, steps=full + (rest > 0), model=model)
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        order = np.random.permutation(n).astype(np.int32)
        batches = [order[i: i + batch_size] for i in range(0, n, batch_size)]
        state = train_state(model)
        scanned = full - full % chunk if chunk > 1 else 0
        for start in range(0, scanned, chunk):
            state = several_steps(state, x_device, y_device, np.stack(batches[start: start + chunk]))
        for indices in batches[scanned:]:
            state = one_step(state, x_device, y_device, indices)
        _assign(model, state)
        callback_list.on_epoch_end(epoch, {key: float(value) for key, value in model.get_metrics_result().items()})
        if model.stop_training:
            break
    model.optimizer.finalize_variable_values(model.trainable_weights)
    callback_list.on_train_end()


__all__ = ["LOOPS", "check_loop", "fit_on_device", "train_state"]
