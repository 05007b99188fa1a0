"""Checks of flags that several commands share, each in one place so that every command refuses the same values
with the same words."""

from __future__ import annotations

from .errors import UserError


def check_noise_ratio(value: float, flag: str = "--noise_ratio") -> float:
    """The one check of a spike-noise ratio: the share of spikes dropped, in [0, 1)."""
    if not (isinstance(value, (int, float)) and 0.0 <= value < 1.0):
        raise UserError(f"{flag} must be in [0, 1), got {value}")
    return float(value)


def check_cpu_devices(n: int | None) -> int | None:
    """The one check of --cpu_devices (None: the machine's own devices)."""
    if n is not None and n < 1:
        raise UserError(f"--cpu_devices must be at least 1, got {n}")
    return n
