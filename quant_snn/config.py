"""Validated quantization settings and dataset descriptions shared by every script."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError


BN_EPSILON = 1e-5  # batch norm's epsilon: the ANN's layers and the folded spiking thresholds share it
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
            raise UserError(f"impossible --k {self.k} --B {self.B:g}: 2^k*B = {levels:g} thresholds per neuron; at most "
                            f"{MAX_LEVELS} are supported (the paper uses up to 8)")
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
    def levels(self) -> int:
        """Number of thresholds per spiking neuron, 2^k * B."""
        if not self.quantized:
            raise ValueError("the FP32 network has no quantization levels")
        return int(round((2**self.k) * self.B))

    @property
    def tag(self) -> str:
        """Short name used in file names and log folders: ``k1B2`` or ``fp32``."""
        return f"k{self.k}B{self.B:g}" if self.quantized else "fp32"


FP32 = QuantConfig(None, None)


def parse_tag(tag: str) -> QuantConfig:
    """``fp32`` or ``k{k}B{B}`` (as in file and log-folder names) back to a validated configuration."""
    if tag == "fp32":
        return FP32
    match = re.fullmatch(r"k(\d+)B([0-9.]+)", tag)
    if not match:
        raise UserError(f"unknown configuration {tag!r}: use fp32 or k{{k}}B{{B}} such as k1B2")
    return QuantConfig(int(match.group(1)), float(match.group(2)))


@dataclass(frozen=True)
class DatasetSpec:
    """Where a CIFAR archive comes from and how its extracted files are laid out."""

    name: str  # "cifar10" or "cifar100"
    n_classes: int
    url: str
    md5: str
    archive: str
    folder: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    label_key: bytes
    npz_stem: str  # the original's weights file stem, e.g. model_cifar_10


CIFAR10 = DatasetSpec(
    name="cifar10",
    n_classes=10,
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
    archive="cifar-10-python.tar.gz",
    folder="cifar-10-batches-py",
    train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test_files=("test_batch",),
    label_key=b"labels",
    npz_stem="model_cifar_10",
)

CIFAR100 = DatasetSpec(
    name="cifar100",
    n_classes=100,
    url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    md5="eb9058c3a382ffc7106e4002c42a8d85",
    archive="cifar-100-python.tar.gz",
    folder="cifar-100-python",
    train_files=("train",),
    test_files=("test",),
    label_key=b"fine_labels",
    npz_stem="model_cifar_100",
)

DATASETS = {spec.name: spec for spec in (CIFAR10, CIFAR100)}


def dataset_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise UserError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}") from None


@dataclass(frozen=True)
class RunFiles:
    """The one place that names a run's files: ``model_cifar_10_k1B2.npz`` (weights), ``checkpoint_<stem>.npz``
    and ``history_<stem>.csv`` in its output folder (training, the Spiking script and reproduce all use it)."""

    folder: Path
    stem: str

    @classmethod
    def of(cls, folder: str | os.PathLike, dataset: str, quant: QuantConfig) -> "RunFiles":
        return cls(Path(folder), f"{dataset_spec(dataset).npz_stem}_{quant.tag}")

    @property
    def npz(self) -> Path:
        return self.folder / f"{self.stem}.npz"

    @property
    def checkpoint(self) -> Path:
        return self.folder / f"checkpoint_{self.stem}.npz"

    @property
    def history(self) -> Path:
        return self.folder / f"history_{self.stem}.csv"


# Training precisions: mixed_bfloat16 computes convolutions in bfloat16 with float32 variables; batch-norm
# statistics, the class scores (dense layer) and the loss stay float32. Evaluation and the SNN are always float32.
PRECISIONS = ("float32", "mixed_bfloat16")
