"""The quantization settings of one network, level ``k`` and bound ``B`` (or FP32), validated once, and the
constants that the ANN's layers and the spiking thresholds must share."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import UserError

BN_EPSILON = 1e-5  # batch norm's epsilon: the ANN's layers and the folded spiking thresholds share it
# The ANN quantizer adds this before rounding (see docs/DESIGN.md); the spiking thresholds fold it in as well.
ROUNDING_OFFSET = 1e-5
MAX_LEVELS = 1024  # thresholds per spiking neuron; beyond this the simulator's memory grows past any use


@dataclass(frozen=True)
class QuantConfig:
    """Activation level ``k`` and upper bound ``B``; ``None`` for both means the FP32 network.

    A quantized activation takes the ``2**k * B + 1`` values ``0, 1/2**k, ..., B``, so ``2**k * B``
    must be a positive integer: it is also the number of thresholds of every spiking neuron.
    """

    k: int | None = 1
    B: float | None = 2.0

    def __post_init__(self) -> None:
        if (self.k is None) != (self.B is None):
            raise UserError("k and B must both be given (quantized) or both be None (FP32)")
        if self.k is None:
            return
        if not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 0 or self.k > 16:
            raise UserError(f"impossible --k {self.k!r}: k must be an integer from 0 to 16")
        if not (isinstance(self.B, (int, float)) and math.isfinite(self.B) and self.B > 0):
            raise UserError(f"impossible --B {self.B!r}: B must be a positive number")
        levels = (2**self.k) * self.B
        if levels > MAX_LEVELS:
            raise UserError(f"impossible --k {self.k} --B {self.B:g}: 2^k*B = {levels:g} thresholds per neuron; "
                            f"at most {MAX_LEVELS} are supported (the paper uses up to 8)")
        if abs(levels - round(levels)) > 1e-9 or round(levels) < 1:
            raise UserError(
                f"impossible --k {self.k} --B {self.B:g}: 2^k*B = {levels:g} must be a positive integer "
                "(it is the number of spike thresholds per neuron)"
            )
        object.__setattr__(self, "B", float(self.B))

    @property
    def quantized(self) -> bool:
        return self.k is not None

    @property
    def n_thresholds(self) -> int:
        """Number of thresholds per spiking neuron, 2^k * B."""
        if not self.quantized:
            raise ValueError("the FP32 network has no spike thresholds")
        return int(round((2**self.k) * self.B))

    @property
    def tag(self) -> str:
        """Short name used in file names and log folders: ``k1B2`` or ``fp32``."""
        return f"k{self.k}B{self.B:g}" if self.quantized else "fp32"


FP32 = QuantConfig(None, None)


TAG_PATTERN = re.compile(r"k(\d+)B([0-9.]+)")  # a quantized configuration's tag (QuantConfig.tag)


def parse_tag(tag: str) -> QuantConfig:
    """``fp32`` or ``k{k}B{B}`` (as in file and log-folder names) back to a validated configuration."""
    if tag == "fp32":
        return FP32
    match = TAG_PATTERN.fullmatch(tag)
    if not match:
        raise UserError(f"unknown configuration {tag!r}: use fp32 or k{{k}}B{{B}} such as k1B2")
    return QuantConfig(int(match.group(1)), float(match.group(2)))
