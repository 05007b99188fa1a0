"""CIFAR-10 or CIFAR-100 in the official "python version" layout, written from a lossless WebP bundle.

Where the official archive cannot be downloaded (a GPU machine without internet), the images travel as a bundle of
lossless WebP files (about 106 MB per dataset instead of 177 MB of pixels) and this module writes the folder the
scripts read: ``cifar-10-batches-py/`` (data_batch_1..5, test_batch, batches.meta) or ``cifar-100-python/`` (train,
test, meta), each file a dict pickled like the official Python 2 files (``pickle.load(f, encoding="bytes")`` gives
bytes keys; ``b"data"`` is uint8 (N, 3072): the red, green, then blue 32x32 plane of each image, row-major). It also
writes ``PROVENANCE.txt``, whose first line the results files quote.

Bundle format (an uncompressed npz that loads without pickle): for split in train and test, ``{split}_bytes`` (uint8,
the WebP files concatenated), ``{split}_offsets`` (int64, N + 1 start offsets ending with the total), and the labels:
CIFAR-10 ``{split}_labels`` (uint8) and ``{split}_exact`` (bool: the official pixels, else a JPEG copy's) with
``label_names``; CIFAR-100 ``{split}_fine_labels`` and ``{split}_coarse_labels`` with ``fine_label_names`` and
``coarse_label_names``. The image counts come from the bundle (the CIFAR-10 training split must divide into five
batches), so a tiny bundle gives a tiny dataset in the same layout (``bench/gpu_table.py check``).

    python bench/cifar_from_webp.py --dataset cifar100 --bundle cifar100_webp.npz --out data/

Needs numpy and pillow (pillow is not a dependency of the package).
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import struct
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
TRAIN_BATCHES = 5  # CIFAR-10's training split: data_batch_1 .. data_batch_5


class BundleError(ValueError):
    """A bundle that is not what the format above describes."""


def decode(blobs: list[bytes]) -> np.ndarray:
    """WebP (or any pillow-readable) 32x32 images -> CIFAR rows: uint8 (len(blobs), 3072), R, G, B planes."""
    from PIL import Image

    out = np.empty((len(blobs), 3, 32, 32), dtype=np.uint8)
    for i, blob in enumerate(blobs):
        try:
            with Image.open(io.BytesIO(blob)) as image:
                pixels = np.asarray(image.convert("RGB"))
        except (OSError, ValueError, SyntaxError) as exc:  # pillow's errors for data that is not an image
            raise BundleError(f"image {i} of a chunk does not decode ({type(exc).__name__}: {exc})") from None
        if pixels.shape != (32, 32, 3):
            raise BundleError(f"expected a 32x32 image, got shape {pixels.shape}")
        out[i] = pixels.transpose(2, 0, 1)
    return out.reshape(len(blobs), 3072)


def encode(rows: np.ndarray) -> list[bytes]:
    """CIFAR rows -> lossless WebP files (the inverse of :func:`decode`; tests and ``check`` make bundles with it)."""
    from PIL import Image

    blobs = []
    for row in rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1):
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(row)).save(buffer, format="WEBP", lossless=True)
        blobs.append(buffer.getvalue())
    return blobs


def write_bundle(path: Path, dataset: str, splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    """A bundle in the format above from ``{"train": (rows, labels), "test": (rows, labels)}`` (rows uint8 (N, 3072),
    fine labels for CIFAR-100, whose coarse label is written as fine // 5); for tests and ``check`` runs."""
    members: dict[str, np.ndarray] = {}
    for split, (rows, ys) in splits.items():
        blobs = encode(rows)
        members[f"{split}_bytes"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        members[f"{split}_offsets"] = np.cumsum([0, *map(len, blobs)]).astype(np.int64)
        if dataset == "cifar10":
            members[f"{split}_labels"] = ys.astype(np.uint8)
            members[f"{split}_exact"] = np.ones(len(ys), dtype=bool)
        else:
            members[f"{split}_fine_labels"] = ys.astype(np.uint8)
            members[f"{split}_coarse_labels"] = (ys // 5).astype(np.uint8)
    if dataset == "cifar10":
        members["label_names"] = np.array([f"class{i}" for i in range(10)])
    else:
        members["fine_label_names"] = np.array([f"fine{i}" for i in range(100)])
        members["coarse_label_names"] = np.array([f"coarse{i}" for i in range(20)])
    with open(path, "wb") as f:
        np.savez(f, **members)
    return path


class Py2Pickler(pickle._Pickler):
    """Protocol-2 pickler that stores bytes as Python 2 strings, as the official files do: ``encoding="bytes"``
    gives bytes keys and ``encoding="latin1"`` str keys, as with those files (Python 3's own pickler would store
    bytes latin-1-encoded as UTF-8 at protocol 2, about 45% larger)."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]))
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)))
        self.write(obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def dump(path: Path, obj: dict) -> None:
    with open(path, "wb") as f:
        Py2Pickler(f, protocol=2).dump(obj)


def split_images(bundle, split: str, workers: int) -> np.ndarray:
    """Decode one split's images, in chunks over ``workers`` processes."""
    buffer, offsets = bundle[f"{split}_bytes"], bundle[f"{split}_offsets"]
    if offsets.ndim != 1 or len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != len(buffer) or np.any(
            np.diff(offsets) <= 0):
        raise BundleError(f"{split}_offsets must rise from 0 to the length of {split}_bytes")
    blobs = [buffer[a:b].tobytes() for a, b in zip(offsets[:-1], offsets[1:])]
    chunks = [blobs[i:i + 500] for i in range(0, len(blobs), 500)]
    if workers <= 1 or len(chunks) == 1:
        return np.concatenate([decode(chunk) for chunk in chunks])
    with ProcessPoolExecutor(workers) as pool:
        return np.concatenate(list(pool.map(decode, chunks)))


def labels(bundle, key: str, n: int, classes: int) -> list[int]:
    values = bundle[key]
    if values.shape != (n,) or (n and not 0 <= int(values.min()) <= int(values.max()) < classes):
        raise BundleError(f"{key} must hold {n} labels from 0 to {classes - 1}")
    return [int(v) for v in values]


def write_cifar10(bundle, dest: Path, workers: int) -> str:
    copies = {}  # images from the JPEG copy, per split
    for split in ("train", "test"):
        data = split_images(bundle, split, workers)
        n, batches = len(data), TRAIN_BATCHES if split == "train" else 1
        if n % batches:
            raise BundleError(f"the training split ({n} images) must divide into {TRAIN_BATCHES} batches")
        ys, per = labels(bundle, f"{split}_labels", n, 10), n // batches
        copies[split] = n - int(np.count_nonzero(bundle[f"{split}_exact"]))
        for b in range(batches):
            rows = slice(b * per, (b + 1) * per)
            name = f"data_batch_{b + 1}" if split == "train" else "test_batch"
            kind = f"training batch {b + 1} of {TRAIN_BATCHES}" if split == "train" else "testing batch 1 of 1"
            dump(dest / name, {b"batch_label": kind.encode(), b"labels": ys[rows], b"data": data[rows],
                               b"filenames": [f"{split}_{i:05d}.png".encode() for i in range(rows.start, rows.stop)]})
    total = sum(len(bundle[f"{split}_offsets"]) - 1 for split in ("train", "test"))
    dump(dest / "batches.meta", {b"label_names": [str(s).encode() for s in bundle["label_names"]],
                                 b"num_cases_per_batch": total // (TRAIN_BATCHES + 1), b"num_vis": 3072})
    jpeg = sum(copies.values())
    return (f"converted from a lossless WebP bundle of CIFAR-10 in the official split: {total - jpeg:,} of the "
            f"{total:,} images with the official pixels, {jpeg:,} ({copies['train']:,} training, {copies['test']:,} "
            "test) from a JPEG copy; only the order inside each split differs")


def write_cifar100(bundle, dest: Path, workers: int) -> str:
    total = 0
    for split in ("train", "test"):
        data = split_images(bundle, split, workers)
        n = len(data)
        total += n
        dump(dest / split, {
            b"filenames": [f"{split}_{i:05d}.png".encode() for i in range(n)],
            b"batch_label": f"{'training' if split == 'train' else 'testing'} batch 1 of 1".encode(),
            b"fine_labels": labels(bundle, f"{split}_fine_labels", n, 100),
            b"coarse_labels": labels(bundle, f"{split}_coarse_labels", n, 20),
            b"data": data})
    dump(dest / "meta", {b"fine_label_names": [str(s).encode() for s in bundle["fine_label_names"]],
                         b"coarse_label_names": [str(s).encode() for s in bundle["coarse_label_names"]]})
    return (f"converted from a lossless WebP bundle of CIFAR-100 in the official split: all {total:,} images with "
            "the official pixels; only the order inside each split differs")


def convert(dataset: str, bundle_path: Path, dest: Path, workers: int = 1) -> Path:
    """Write ``dest`` (which must not exist yet) from the bundle, with its ``PROVENANCE.txt``; a bad bundle raises
    :class:`BundleError` and leaves ``dest`` partly written: callers write into a temporary folder."""
    dest.mkdir(parents=True)
    try:
        with np.load(bundle_path, allow_pickle=False) as bundle:
            provenance = (write_cifar10 if dataset == "cifar10" else write_cifar100)(bundle, dest, workers)
    except BundleError:
        raise
    except (KeyError, OSError, EOFError, ValueError) as exc:  # a missing member, not an npz, a pickled member
        raise BundleError(f"{bundle_path} is not a {dataset} WebP bundle ({type(exc).__name__}: {exc})") from None
    (dest / "PROVENANCE.txt").write_text(provenance + "\n")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=tuple(FOLDERS), required=True)
    parser.add_argument("--bundle", type=Path, required=True, help="the WebP bundle (.npz)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the dataset's folder into")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="decoding processes")
    args = parser.parse_args(argv)
    dest = args.out / FOLDERS[args.dataset]
    if dest.exists() or dest.is_symlink():
        print(f"error: {dest} exists already: move it away first", file=sys.stderr)
        return 2
    try:
        convert(args.dataset, args.bundle, dest, max(1, args.workers))
    except BundleError as exc:
        print(f"error: {exc} ({dest} is incomplete: delete it)", file=sys.stderr)
        return 2
    print(f"wrote {dest}: {(dest / 'PROVENANCE.txt').read_text().strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
