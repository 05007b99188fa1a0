"""Names of trained networks: a configuration tag and an optional label, so that two networks of one configuration
(trained with two recipes, say) sit side by side in weights files, log folders, histories and result rows.

``k1B2`` is the configuration's one network, as the original scripts name it (``model_cifar_10_k1B2.npz``,
``figs/k1B2/``); ``k1B2_original`` and ``k1B2_fast60`` are two labelled networks of it
(``model_cifar_10_k1B2_original.npz``, ``figs/k1B2_original/``, ``histories/k1B2_original.csv``). A label is lower-case
letters and digits, starting with a letter; it may not start with ``noise``, which marks the noisy runs' log folders
(``figs/k1B2_original_noise0.1/``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UserError
from .quant_config import QuantConfig, parse_tag

LABEL_PATTERN = re.compile(r"[a-z][a-z0-9]*")
NAME_PATTERN = re.compile(r"(fp32|k\d+B[0-9.]+)(?:_(.+))?")
RESERVED_PREFIX = "noise"  # spiking_logs.NOISE_SUFFIX without its underscore


@dataclass(frozen=True)
class NetworkName:
    """A configuration and an optional label; ``str()`` gives the name used in file and folder names."""

    quant: QuantConfig
    label: str | None = None

    def __post_init__(self) -> None:
        if self.label is not None and (not LABEL_PATTERN.fullmatch(self.label)
                                       or self.label.startswith(RESERVED_PREFIX)):
            raise UserError(f"network label {self.label!r}: use lower-case letters and digits, starting with a letter "
                            f"and not with {RESERVED_PREFIX!r} (e.g. original, fast60)")

    @property
    def tag(self) -> str:
        return self.quant.tag

    def __str__(self) -> str:
        return self.tag if self.label is None else f"{self.tag}_{self.label}"


def parse_name(text: str) -> NetworkName:
    """``k1B2``, ``k1B2_fast60`` or ``fp32_fast60`` back to a validated :class:`NetworkName`."""
    match = NAME_PATTERN.fullmatch(text)
    if not match:
        raise UserError(f"unknown network {text!r}: use fp32 or k{{k}}B{{B}}, optionally with _LABEL "
                        "(e.g. k1B2, k1B2_fast60)")
    name = NetworkName(parse_tag(match.group(1)), match.group(2))
    if str(name) != text:  # k1B2.0 would name files and folders k1B2: one spelling for one network
        raise UserError(f"write the network {text!r} as {str(name)!r}")
    return name


def is_spiking_name(text: str) -> bool:
    """Whether ``text`` is spelled like a quantized network's name (``k17B2`` too: whether its k and B are possible
    is :func:`parse_name`'s to say)."""
    match = NAME_PATTERN.fullmatch(text)
    label = match and match.group(2)
    return bool(match) and match.group(1) != "fp32" and (
        label is None or (LABEL_PATTERN.fullmatch(label) is not None and not label.startswith(RESERVED_PREFIX)))
