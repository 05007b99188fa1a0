"""MNIST in its official IDX files: download once with checksums, or use a local copy that has the official bytes.

``data/mnist/`` holds the four files, each either decompressed (``train-images-idx3-ubyte``) or gzip-compressed
(``train-images-idx3-ubyte.gz``, any gzip of the official bytes). Whatever is there must decompress to the official
bytes (md5 checked); a missing file is downloaded from the official site (the ``.gz``, md5 checked, then its
decompressed md5 too). Any other file is refused with one line and left as it is. The IDX layout is checked as well
(magic number, image size, label range), so the reader can also take data written by the tests (:func:`write_idx`)
when it is told their checksums.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np

from .datasets import DatasetSpec
from .download import ORIGIN_ENV, fetch
from .errors import UserError

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
MAX_FILE_BYTES = 64 * 2**20  # the largest official file (training images) is 47,040,016 bytes


def _how_to_fix(spec: DatasetSpec, folder: Path) -> str:
    return (f"delete or move it and run again to download the official file from {spec.url}, or put the official "
            f"files (plain or .gz) into {folder}")


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():  # a FIFO would block the read forever, a folder fail in a traceback
        raise UserError(f"dataset file {path} is not a plain file")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"dataset file {path} cannot be read ({type(exc).__name__}: {exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise UserError(f"dataset file {path} is larger than any MNIST file")
    return data


def _download(spec: DatasetSpec, name: str, gz_md5: str, folder: Path) -> Path:
    base = os.environ.get(ORIGIN_ENV, spec.url).rstrip("/") + "/"
    print(f"{name} not found in {folder}: downloading {base}{name}.gz", flush=True)
    return fetch(f"{base}{name}.gz", folder / f"{name}.gz", gz_md5,
                 f"put the official MNIST files (plain or .gz) into {folder}")


def read_idx_file(spec: DatasetSpec, folder: Path, name: str) -> bytes:
    """The official bytes of one MNIST file from ``folder`` (plain or .gz), downloading it if absent."""
    sums = {entry[0]: entry[1:] for entry in spec.checksums}
    gz_md5, md5 = sums[name]
    plain, packed = folder / name, folder / f"{name}.gz"
    path = plain if plain.exists() else packed if packed.exists() else _download(spec, name, gz_md5, folder)
    data = _read_bytes(path)
    found = hashlib.md5(data).hexdigest()
    if found != md5:
        raise UserError(f"dataset file {path} is not the official {name} (md5 of its contents {found}, expected "
                        f"{md5}); it was left as it is: {_how_to_fix(spec, folder)}")
    return data


def parse_images(data: bytes, path: str) -> np.ndarray:
    """IDX3 images (N, 28, 28) uint8 -> (N, 28, 28, 1)."""
    if len(data) < 16:
        raise UserError(f"dataset file {path} is too short for an IDX image file")
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != IMAGES_MAGIC or (rows, cols) != (28, 28) or len(data) != 16 + n * rows * cols:
        raise UserError(f"dataset file {path} is not an MNIST image file (magic {magic}, {n} images of "
                        f"{rows}x{cols}, {len(data)} bytes)")
    return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows, cols, 1).copy()


def parse_labels(data: bytes, path: str, n_classes: int) -> np.ndarray:
    if len(data) < 8:
        raise UserError(f"dataset file {path} is too short for an IDX label file")
    magic, n = struct.unpack(">II", data[:8])
    if magic != LABELS_MAGIC or len(data) != 8 + n:
        raise UserError(f"dataset file {path} is not an MNIST label file (magic {magic}, {n} labels, "
                        f"{len(data)} bytes)")
    labels = np.frombuffer(data, np.uint8, offset=8)
    if labels.size and labels.max() >= n_classes:
        raise UserError(f"dataset file {path} has labels outside 0..{n_classes - 1}")
    return labels.astype(np.int32)


def load_mnist_split(spec: DatasetSpec, folder: Path, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    images = parse_images(read_idx_file(spec, folder, names[0]), str(folder / names[0]))
    labels = parse_labels(read_idx_file(spec, folder, names[1]), str(folder / names[1]), spec.n_classes)
    if len(images) != len(labels):
        raise UserError(f"{folder}: {names[0]} holds {len(images)} images but {names[1]} {len(labels)} labels")
    return images, labels


def write_idx(folder: Path, name: str, array: np.ndarray, compress: bool = False) -> bytes:
    """Write images (N, 28, 28[, 1]) or labels (N,) as an IDX file; returns its (decompressed) bytes."""
    array = np.asarray(array, np.uint8)
    if array.ndim == 1:
        header = struct.pack(">II", LABELS_MAGIC, len(array))
    else:
        header = struct.pack(">IIII", IMAGES_MAGIC, len(array), array.shape[1], array.shape[2])
    data = header + array.tobytes()
    folder.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(folder / f"{name}.gz", "wb") as f:
            f.write(data)
    else:
        (folder / name).write_bytes(data)
    return data
