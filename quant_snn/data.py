"""CIFAR-10/100 "python version" archives: download once with checksum, extract once, load as numpy arrays
(MNIST: :mod:`quant_snn.mnist_data`; :func:`load_dataset` loads either).

An already extracted folder is used as is (its files are not checksummed, so a converter's output loads);
each file is still checked for the expected keys and shapes, and any problem becomes one :class:`UserError`
that names the file and what to do. Only numpy and ``keras.utils.get_file`` are used: no TensorFlow import.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets import DatasetSpec
from .download import ORIGIN_ENV, fetch, md5_of
from .errors import UserError
from .safe_pickle import UnsafePickle, load_arrays_pickle


@dataclass
class Dataset:
    """Images as uint8 NHWC arrays and labels as int32 vectors."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def test_set_sha256(x_test: np.ndarray, y_test: np.ndarray) -> str:
    """One digest of the test images and labels, in order: a spiking run's record names the very data it ran on,
    so results computed on another copy (another ``--data_dir``) are never taken for this one's."""
    digest = hashlib.sha256()
    for array in (x_test, y_test.astype(np.int64)):
        digest.update(repr((array.dtype.str, array.shape)).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _how_to_fix(spec: DatasetSpec, folder: Path) -> str:
    return (
        f"delete {folder} and run again to download {spec.archive} from {spec.url}"
        + ", or rewrite it with the converter it came from (data/README.md)"
    )


def read_batch(path: Path, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    """Read one pickled batch file; returns (uint8 images N x 32 x 32 x 3, int32 labels)."""
    folder = path.parent
    if not path.is_file():
        raise UserError(f"dataset file {path} is missing: {_how_to_fix(spec, folder)}")
    try:
        with open(path, "rb") as f:
            batch = load_arrays_pickle(f, encoding="bytes")
        raw_data, raw_labels = np.asarray(batch[b"data"]), np.asarray(batch[spec.label_key])
    except UnsafePickle as exc:
        raise UserError(f"dataset file {path} refused: {exc} (a CIFAR batch holds only arrays, lists, numbers and "
                        f"strings): {_how_to_fix(spec, folder)}") from None
    except Exception as exc:  # truncated pickle, wrong keys, garbage bytes
        raise UserError(
            f"dataset file {path} is corrupt or incomplete ({type(exc).__name__}: {exc}): {_how_to_fix(spec, folder)}"
        ) from None
    # checked before any cast: a cast would wrap pixels above 255 and truncate fractional labels without a word
    if not _whole_numbers_within(raw_labels, 0, spec.n_classes - 1):
        raise UserError(f"dataset file {path} has labels that are not whole numbers in 0..{spec.n_classes - 1}: "
                        f"{_how_to_fix(spec, folder)}")
    if not _whole_numbers_within(raw_data, 0, 255):
        raise UserError(f"dataset file {path} has pixel values that are not whole numbers in 0..255: "
                        f"{_how_to_fix(spec, folder)}")
    data, labels = raw_data.astype(np.uint8), raw_labels.astype(np.int64)
    height, width, channels = spec.pixels  # a row holds the image channel by channel (the official layout)
    row = height * width * channels
    if data.ndim != 2 or data.shape[1] != row or labels.shape != (data.shape[0],):
        raise UserError(
            f"dataset file {path} has data of shape {data.shape} and {labels.size} labels, expected N x {row} "
            f"and N labels: {_how_to_fix(spec, folder)}"
        )
    images = data.reshape(-1, channels, height, width).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int32)


def _whole_numbers_within(values: np.ndarray, low: int, high: int) -> bool:
    if values.size == 0:
        return True
    if values.dtype.kind not in "iuf" or (values.dtype.kind == "f" and not np.all(np.isfinite(values))):
        return False
    if values.min() < low or values.max() > high:
        return False
    return values.dtype.kind != "f" or bool(np.all(values == np.round(values)))  # integers need no rounding test


def _read_split(folder: Path, names: tuple[str, ...], spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    parts = [read_batch(folder / name, spec) for name in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def download_archive(spec: DatasetSpec, data_dir: Path, origin: str | None = None) -> tuple[Path, bool]:
    """The archive in ``data_dir``: one already there is used if it has the official md5 and otherwise refused,
    never replaced or deleted (it may be the user's only copy); else it is downloaded, verified, and removed again
    on any failure. Returns the path and whether this call downloaded it."""
    target = data_dir / spec.archive
    if target.exists():
        found = md5_of(target) if target.is_file() else "not a file"
        if found != spec.md5:
            raise UserError(f"{target} is not the official {spec.archive} (md5 {found}, expected {spec.md5}); it was "
                            f"left as it is: move it away to download the archive, or put the extracted "
                            f"{spec.folder}/ folder beside it")
        return target, False
    fetch(origin or spec.url, target, spec.md5,
          f"put the archive (md5 {spec.md5}) or its extracted {spec.folder}/ folder into {data_dir}")
    return target, True


def extract_archive(archive: Path, spec: DatasetSpec, data_dir: Path, downloaded: bool = True) -> Path:
    """Extract into a temporary folder, then move ``spec.folder`` into place in one rename. A corrupt archive is
    deleted only if this run downloaded it."""
    final = data_dir / spec.folder
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".extract-") as tmp:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            if downloaded:
                archive.unlink(missing_ok=True)
                raise UserError(f"archive {archive} is corrupt ({exc}); it was deleted, run again to download it") \
                    from None
            raise UserError(f"archive {archive} is corrupt ({exc}); delete it and run again to download it") from None
        extracted = Path(tmp) / spec.folder
        if not extracted.is_dir():
            raise UserError(f"archive {archive} holds no {spec.folder}/ folder; delete it and run again")
        os.replace(extracted, final)
    return final


def archive_origin(spec: DatasetSpec) -> str:
    base = os.environ.get(ORIGIN_ENV)
    return f"{base.rstrip('/')}/{spec.archive}" if base else spec.url


def load_cifar(spec: DatasetSpec, data_dir: str | os.PathLike, origin: str | None = None) -> Dataset:
    """Load a CIFAR dataset from ``data_dir``, downloading and extracting it on first use."""
    data_dir = Path(data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise UserError(f"--data_dir {data_dir} is a file, not a folder")
    origin = origin or archive_origin(spec)
    folder = data_dir / spec.folder
    if not folder.is_dir():
        archive = data_dir / spec.archive
        if not archive.is_file():
            print(f"{spec.folder} not found in {data_dir}: downloading {origin}", flush=True)
        archive, downloaded = download_archive(spec, data_dir, origin)  # an archive already there: md5 checked
        extract_archive(archive, spec, data_dir, downloaded)
    x_train, y_train = _read_split(folder, spec.train_files, spec)
    x_test, y_test = _read_split(folder, spec.test_files, spec)
    for split, images in (("training", x_train), ("test", x_test)):
        if len(images) == 0:
            raise UserError(f"{folder} holds no {split} images: {_how_to_fix(spec, folder)}")
    return Dataset(x_train, y_train, x_test, y_test)


def load_dataset(spec: DatasetSpec, data_dir: str | os.PathLike) -> Dataset:
    """Load any dataset of :mod:`quant_snn.datasets` from ``data_dir`` (downloading it on first use); the training
    split is the one the original trains on (MNIST: the first 50,000 images)."""
    if spec.file_format == "cifar":
        return load_cifar(spec, data_dir)
    from .mnist_data import load_mnist_split

    data_dir = Path(data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise UserError(f"--data_dir {data_dir} is a file, not a folder")
    folder = data_dir / spec.folder  # made by the first download: a read-only folder of complete files is enough
    x_train, y_train = load_mnist_split(spec, folder, spec.train_files)
    x_test, y_test = load_mnist_split(spec, folder, spec.test_files)
    if spec.train_images is not None:
        x_train, y_train = x_train[: spec.train_images], y_train[: spec.train_images]
    return Dataset(x_train, y_train, x_test, y_test)


def write_batch(path: Path, images: np.ndarray, labels: np.ndarray, label_key: bytes) -> None:
    """Write images (N x H x W x C uint8) in the official pickled layout; used for synthetic test data."""
    rows = np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), -1))
    with open(path, "wb") as f:
        pickle.dump({b"data": rows, label_key: [int(v) for v in labels]}, f, protocol=2)

