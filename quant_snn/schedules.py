"""Per-step learning-rate schedules for ``--schedule constant|cosine|onecycle``.

Each is a function of the optimizer's step counter, which the checkpoint stores, so a run resumed in the middle of a
schedule continues on the same curve. With ``peak`` the ``--learning_rate``, ``S`` the schedule's total steps
(``--epochs`` times the steps per epoch), ``W`` the warm-up steps and ``s`` the step (0-based):

- constant: ``lr(s) = peak`` (the original recipe; no warm-up).
- cosine: linear warm-up ``peak * (s + 1) / W`` for ``s < W``, then ``peak * (1 + cos(pi * p)) / 2`` with
  ``p = (s - W) / (S - W)`` the fraction of the decay done: ends at 0.
- onecycle: linear rise from ``peak / 10`` to ``peak`` during the warm-up, then linear decay to 0 at step ``S``.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from .errors import UserError
from .recipes import SCHEDULES

__all__ = ["SCHEDULES", "StepSchedule", "schedule_value", "check_schedule"]


def schedule_value(name: str, step: float, peak: float, total_steps: int, warmup_steps: int) -> float:
    """The formula in plain Python (the reference the Keras class is tested against)."""
    if name == "constant":
        return peak
    s = min(float(step), float(total_steps))
    if s < warmup_steps:
        if name == "cosine":
            return peak * (s + 1) / warmup_steps
        return peak / 10 + (peak - peak / 10) * s / warmup_steps
    done = (s - warmup_steps) / max(total_steps - warmup_steps, 1)
    if name == "cosine":
        return peak * 0.5 * (1 + math.cos(math.pi * done))
    return peak * (1 - done)


@keras.saving.register_keras_serializable(package="quant_snn")
class StepSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``schedule_value`` on the optimizer's step counter, with ``keras.ops`` (runs inside the compiled step)."""

    def __init__(self, name: str, peak: float, total_steps: int, warmup_steps: int = 0):
        check_schedule(name, peak, total_steps, warmup_steps)
        self.name, self.peak = name, float(peak)
        self.total_steps, self.warmup_steps = int(total_steps), int(warmup_steps)

    def __call__(self, step):
        peak = ops.cast(self.peak, "float32")
        if self.name == "constant":
            return peak
        s = ops.minimum(ops.cast(step, "float32"), float(self.total_steps))
        w = float(max(self.warmup_steps, 1))
        if self.name == "cosine":
            rise = peak * (s + 1.0) / w
        else:
            rise = peak / 10.0 + (peak - peak / 10.0) * s / w
        done = (s - float(self.warmup_steps)) / float(max(self.total_steps - self.warmup_steps, 1))
        if self.name == "cosine":
            decay = peak * 0.5 * (1.0 + ops.cos(math.pi * done))
        else:
            decay = peak * (1.0 - done)
        return ops.where(s < float(self.warmup_steps), rise, decay)

    def get_config(self) -> dict:
        return {"name": self.name, "peak": self.peak, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps}


def check_schedule(name: str, peak: float, total_steps: int, warmup_steps: int) -> None:
    if name not in SCHEDULES:
        raise UserError(f"unknown --schedule {name!r}: use one of {', '.join(SCHEDULES)}")
    if not peak > 0:
        raise UserError(f"--learning_rate must be positive, got {peak}")
    if total_steps < 1:
        raise UserError(f"a schedule needs at least one step, got {total_steps}")
    if not 0 <= warmup_steps < total_steps and name != "constant":
        raise UserError(f"--warmup_epochs must leave steps to decay: {warmup_steps} warm-up steps of {total_steps}")
