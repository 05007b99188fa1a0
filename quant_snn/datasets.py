"""The datasets: what each holds (classes, pixels, files, checksums), the network the original trains on it, its
scripts' folder and the defaults that depend on it (batch sizes)."""

from __future__ import annotations

from dataclasses import dataclass

from .architecture import ARCHITECTURES, Architecture
from .errors import UserError

# The original's figures compare these three ("single-, two-, four-spike"); reproduce's default table adds FP32.
ORIGINAL_CONFIGS = ("k0B1", "k0B2", "k1B2")
DEFAULT_TABLE = ("fp32", *ORIGINAL_CONFIGS)
# A prepared copy of a dataset (one not extracted from the official archive) says where it came from in this file,
# beside its data files; results quote its first line.
PROVENANCE_FILE = "PROVENANCE.txt"
# The noise ratios of the paper's columns (share of first-layer spikes dropped); 0 is the noiseless run.
DEFAULT_NOISE = (0.0, 0.1, 0.2)


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
    archive_marker: str = ""  # a file the official archive extracts and converted copies do not write

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
    archive_marker="readme.html",
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
    archive_marker="file.txt~",
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
