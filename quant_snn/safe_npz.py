"""Reading a weights npz without running code from it, and without unpacking what the reader does not need.

The contract's ``params`` is a numpy object array (a pickle inside the .npy member), and ``np.load(...,
allow_pickle=True)`` would execute whatever a crafted pickle asks for. Here the pickle is read by
:class:`quant_snn.safe_pickle.ArrayUnpickler` (numpy's array names only, declared sizes checked before anything is
allocated), and every element must then be a plain numeric array. Members other than ``params`` are read with
pickles refused outright. Only the members the caller asks for are unpacked, and none whose declared unpacked size
exceeds ``max_bytes``: a small file cannot unpack into gigabytes.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from typing import BinaryIO

import numpy as np

from .safe_pickle import UnsafePickle, load_arrays_pickle

# Unpacked size allowed for one member: 3x the largest params list this project reads (the CIFAR-100 VGG in float64,
# about 41 MB; float32 files are half that).
MAX_MEMBER_BYTES = 128 * 2**20


class UnsafeNpz(UnsafePickle):
    """The file holds something other than plain numeric arrays, or more than a weights file can need."""


def _read_member(zf: zipfile.ZipFile, name: str, allow_arrays_of_arrays: bool, max_bytes: int) -> np.ndarray:
    size = zf.getinfo(name).file_size  # zipfile stops (and fails the CRC check) at the declared size
    if size > max_bytes:
        raise UnsafeNpz(f"its entry {name[:-4]!r} unpacks to {size:,} bytes, more than the {max_bytes:,} allowed")
    with zf.open(name) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        if not dtype.hasobject:
            data = np.frombuffer(f.read(), dtype=dtype, count=int(np.prod(shape)))
            return data.reshape(shape, order="F" if fortran else "C")
        if not allow_arrays_of_arrays:
            raise UnsafeNpz(f"its entry {name[:-4]!r} is a pickled object")
        try:
            value = load_arrays_pickle(f)
        except UnsafePickle as exc:
            raise UnsafeNpz(f"its entry {name[:-4]!r}: {exc}") from None
    if not isinstance(value, np.ndarray) or value.dtype != object:
        raise UnsafeNpz(f"its entry {name[:-4]!r} is not an array of arrays")
    for item in value.ravel():
        if not isinstance(item, np.ndarray) or item.dtype.kind not in "fiub" or item.dtype.hasobject:
            raise UnsafeNpz(f"its entry {name[:-4]!r} holds a {type(item).__name__} that is not a numeric array")
    return value


def load_safe_npz(path: str | os.PathLike | BinaryIO, keys: Iterable[str] | None = None,
                  object_keys: tuple[str, ...] = ("params",),
                  max_bytes: int = MAX_MEMBER_BYTES, max_total_bytes: int | None = None) -> dict[str, np.ndarray]:
    """The members ``keys`` (all when None) of the npz that it holds, as arrays; only ``object_keys`` may be arrays
    of arrays (safely unpickled). Raises :class:`UnsafeNpz` for anything else that is pickled, for a member larger
    than ``max_bytes`` unpacked or members larger than ``max_total_bytes`` together (both from the declared sizes,
    before anything is unpacked), ``zipfile.BadZipFile`` / ``ValueError`` for a damaged file."""
    wanted = None if keys is None else set(keys)
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf:
        names = [name for name in zf.namelist()
                 if name.endswith(".npy") and (wanted is None or name[:-4] in wanted)]
        total = sum(zf.getinfo(name).file_size for name in names)
        if max_total_bytes is not None and total > max_total_bytes:
            raise UnsafeNpz(f"it unpacks to {total:,} bytes, more than the {max_total_bytes:,} allowed")
        for name in names:
            arrays[name[:-4]] = _read_member(zf, name, name[:-4] in object_keys, max_bytes)
    return arrays
