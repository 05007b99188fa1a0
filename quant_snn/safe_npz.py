"""Reading a weights npz without running code from it.

The contract's ``params`` is a numpy object array (a pickle inside the .npy member), and ``np.load(...,
allow_pickle=True)`` would execute whatever a crafted pickle asks for. Here the pickle is read by an unpickler that
knows only the three numpy names an array of arrays needs (``_reconstruct``, ``ndarray``, ``dtype``), and every
element must then be a plain numeric array. Members other than ``params`` are read with pickles refused outright.
"""

from __future__ import annotations

import os
import pickle
import zipfile

import numpy as np

ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),  # numpy < 2 (and the original's TF 1.2-era files)
    ("numpy._core.multiarray", "_reconstruct"),  # numpy >= 2
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class UnsafeNpz(ValueError):
    """The file holds something other than plain numeric arrays."""


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafeNpz(f"it asks to run {module}.{name}, which a weights file never needs")
        return super().find_class(module, name)


def _read_member(zf: zipfile.ZipFile, name: str, allow_arrays_of_arrays: bool) -> np.ndarray:
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
        value = _ArrayUnpickler(f, encoding="latin1").load()
    if not isinstance(value, np.ndarray) or value.dtype != object:
        raise UnsafeNpz(f"its entry {name[:-4]!r} is not an array of arrays")
    for item in value.ravel():
        if not isinstance(item, np.ndarray) or item.dtype.kind not in "fiub" or item.dtype.hasobject:
            raise UnsafeNpz(f"its entry {name[:-4]!r} holds a {type(item).__name__} that is not a numeric array")
    return value


def load_safe_npz(path: str | os.PathLike, object_keys: tuple[str, ...] = ("params",)) -> dict[str, np.ndarray]:
    """Every member of the npz as an array; only ``object_keys`` may be arrays of arrays (safely unpickled).
    Raises :class:`UnsafeNpz` for anything else that is pickled, ``zipfile.BadZipFile`` / ``ValueError`` for
    a damaged file."""
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if not name.endswith(".npy"):
                continue
            key = name[:-4]
            arrays[key] = _read_member(zf, name, allow_arrays_of_arrays=key in object_keys)
    return arrays
