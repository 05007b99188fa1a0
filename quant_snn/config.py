"""Validated quantization settings and dataset descriptions shared by every script."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .architecture import ARCHITECTURES, Architecture
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

TAG_PATTERN = re.compile(r"k(\d+)B([0-9.]+)")  # a quantized configuration's tag (QuantConfig.tag)


def parse_tag(tag: str) -> QuantConfig:
    """``fp32`` or ``k{k}B{B}`` (as in file and log-folder names) back to a validated configuration."""
    if tag == "fp32":
        return FP32
    match = TAG_PATTERN.fullmatch(tag)
    if not match:
        raise UserError(f"unknown configuration {tag!r}: use fp32 or k{{k}}B{{B}} such as k1B2")
    return QuantConfig(int(match.group(1)), float(match.group(2)))


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset, the network the original trains on it, and where its files come from.

    CIFAR (``file_format`` "cifar"): one archive at ``url`` with ``md5``, extracted into ``folder`` with the pickled
    ``train_files`` / ``test_files``. MNIST ("idx"): the four gzip files at ``url`` + name + ``.gz`` in ``folder``;
    ``checksums`` gives each file's md5, of the official ``.gz`` and of its decompressed bytes."""

    name: str  # "cifar10", "cifar100", "mnist"
    n_classes: int
    url: str
    md5: str
    archive: str
    folder: str
    train_files: tuple[str, ...]
    test_files: tuple[str, ...]
    label_key: bytes
    npz_stem: str  # the original's weights file stem, e.g. model_cifar_10
    network: str = "vgg"  # the architecture (quant_snn.architecture.ARCHITECTURES)
    scripts: str = "CIFAR10"  # the folder of its scripts and results
    script_name: str = "VGG_CIFAR10"  # Quant_<name>.py, FP32_<name>.py, Spiking_<name>.py
    title: str = "CIFAR-10"
    pixels: tuple[int, int, int] = (32, 32, 3)  # one image as stored
    train_images: int | None = None  # the original trains on the first N training images (None: all)
    batch_size: int = 200  # the original's training batch
    snn_batch_size: int = 50  # the original's spiking batch
    file_format: str = "cifar"
    checksums: tuple[tuple[str, str, str], ...] = ()  # idx: (file name, md5 of the .gz, md5 decompressed)

    @property
    def architecture(self) -> Architecture:
        return ARCHITECTURES[self.network]


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
    scripts="CIFAR100",
    script_name="VGG_CIFAR100",
    title="CIFAR-100",
)

MNIST = DatasetSpec(
    name="mnist",
    n_classes=10,
    url="https://yann.lecun.com/exdb/mnist/",
    md5="",
    archive="",
    folder="mnist",
    train_files=("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    test_files=("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    label_key=b"",
    npz_stem="model_mnist",
    network="lenet",
    scripts="LeNet",
    script_name="LeNet_MNIST",
    title="MNIST",
    pixels=(28, 28, 1),
    train_images=50_000,  # the last 10,000 training images are the original's validation set
    batch_size=128,
    snn_batch_size=200,
    file_format="idx",
    checksums=(
        ("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873", "6bbc9ace898e44ae57da46a324031adb"),
        ("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432", "a25bea736e30d166cdddb491f175f624"),
        ("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3", "2646ac647ad5339dbf082846283269ea"),
        ("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c", "27ae3e4e09519cfbb04c329615203637"),
    ),
)

DATASETS = {spec.name: spec for spec in (CIFAR10, CIFAR100, MNIST)}


def dataset_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise UserError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}") from None


@dataclass(frozen=True)
class RunFiles:
    """The one place that names a run's files: ``model_cifar_10_k1B2.npz`` (weights), ``checkpoint_<stem>.npz``
    and ``history_<stem>.csv`` in its output folder (training, the Spiking script and reproduce all use it); a
    labelled network (:mod:`quant_snn.names`) adds its label: ``model_cifar_10_k1B2_fast60.npz``."""

    folder: Path
    stem: str

    @classmethod
    def of(cls, folder: str | os.PathLike, dataset: str, quant: QuantConfig, label: str | None = None) -> RunFiles:
        suffix = quant.tag if label is None else f"{quant.tag}_{label}"
        return cls(Path(folder), f"{dataset_spec(dataset).npz_stem}_{suffix}")

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
