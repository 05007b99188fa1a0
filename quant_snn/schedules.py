"""Per-step learning-rate schedules for ``--schedule constant|cosine|onecycle``.

Each is a function of the optimizer's step counter, which the checkpoint stores, so a run resumed in the middle of a
schedule continues on the same curve. With ``peak`` the ``--learning_rate``, ``S`` the schedule's total steps
(``--epochs`` times the steps per epoch), ``W`` the warm-up steps and ``s`` the step (0-based):

- constant: ``lr(s) = peak`` (the original recipe; no warm-up).
- cosine: linear warm-up ``peak * (s + 1) / W`` for ``s < W``, then ``peak * (1 + cos(pi * p)) / 2`` with
  ``p = (s - W) / (S - W)`` the fraction of the decay done: ends at 0.
- onecycle: linear rise from ``peak / 10`` to ``peak`` during the warm-up, then linear decay to 0 at step ``S``.

A warm restart (``--restart_epoch``, ``--restart_learning_rate``; SGDR, Loshchilov & Hutter, ICLR 2017) splits the
steps at ``R``: steps ``s < R`` follow the schedule above with ``S = R`` (the same values as a run of ``R`` steps, so a
finished run can be extended), steps ``s >= R`` follow it again from ``s - R`` over ``S - R`` steps, warm-up
included, with the restart's peak.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from .errors import UserError
from .recipes import SCHEDULES

__all__ = ["SCHEDULES", "StepSchedule", "schedule_value", "check_schedule"]


def schedule_value(name: str, step: float, peak: float, total_steps: int, warmup_steps: int,
                   restart_step: int = 0, restart_peak: float | None = None) -> float:
    """The formula in plain Python (the reference the Keras class is tested against)."""
    if name == "constant":
        return peak
    if restart_step:
        if step < restart_step:
            return schedule_value(name, step, peak, restart_step, warmup_steps)
        return schedule_value(name, step - restart_step, restart_peak, total_steps - restart_step, warmup_steps)
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

    def __init__(self, name: str, peak: float, total_steps: int, warmup_steps: int = 0, restart_step: int = 0,
                 restart_peak: float | None = None):
        check_schedule(name, peak, total_steps, warmup_steps, restart_step, restart_peak)
        self.name, self.peak = name, float(peak)
        self.total_steps, self.warmup_steps = int(total_steps), int(warmup_steps)
        self.restart_step = int(restart_step)
        self.restart_peak = float(restart_peak) if restart_peak is not None else None

    def __call__(self, step):
        if self.name == "constant":
            return ops.cast(self.peak, "float32")
        s = ops.cast(step, "float32")
        if not self.restart_step:
            return self._cycle(s, self.peak, self.total_steps)
        first = self._cycle(s, self.peak, self.restart_step)
        second = self._cycle(s - float(self.restart_step), self.restart_peak, self.total_steps - self.restart_step)
        return ops.where(s < float(self.restart_step), first, second)

    def _cycle(self, s, peak: float, total_steps: int):
        """One warm-up and decay over ``total_steps`` (``s`` may be negative in the unused branch of a restart)."""
        peak = ops.cast(peak, "float32")
        s = ops.minimum(s, float(total_steps))
        w = float(max(self.warmup_steps, 1))
        if self.name == "cosine":
            rise = peak * (s + 1.0) / w
        else:
            rise = peak / 10.0 + (peak - peak / 10.0) * s / w
        done = (s - float(self.warmup_steps)) / float(max(total_steps - self.warmup_steps, 1))
        if self.name == "cosine":
            decay = peak * 0.5 * (1.0 + ops.cos(math.pi * done))
        else:
            decay = peak * (1.0 - done)
        return ops.where(s < float(self.warmup_steps), rise, decay)

    def get_config(self) -> dict:
        return {"name": self.name, "peak": self.peak, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "restart_step": self.restart_step, "restart_peak": self.restart_peak}


def check_schedule(name: str, peak: float, total_steps: int, warmup_steps: int, restart_step: int = 0,
                   restart_peak: float | None = None) -> None:
    if name not in SCHEDULES:
        raise UserError(f"unknown --schedule {name!r}: use one of {', '.join(SCHEDULES)}")
    if not peak > 0:
        raise UserError(f"--learning_rate must be positive, got {peak}")
    if total_steps < 1:
        raise UserError(f"a schedule needs at least one step, got {total_steps}")
    if not 0 <= warmup_steps < total_steps and name != "constant":
        raise UserError(f"--warmup_epochs must leave steps to decay: {warmup_steps} warm-up steps of {total_steps}")
    if restart_step:
        if name == "constant":
            raise UserError("--restart_epoch needs --schedule cosine or onecycle")
        if restart_peak is None or not restart_peak > 0 or not math.isfinite(restart_peak):
            raise UserError(f"--restart_epoch needs a positive --restart_learning_rate, got {restart_peak}")
        if not warmup_steps < restart_step < total_steps - warmup_steps:
            raise UserError(f"--restart_epoch must leave each cycle time to decay after its warm-up: restart at "
                            f"{restart_step:g} of {total_steps:g}, warm-up {warmup_steps:g}")
