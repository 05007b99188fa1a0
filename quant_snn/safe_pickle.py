"""Unpickling plain numeric arrays without running code, and without allocating what a file merely declares.

Two of this project's inputs are pickles of numpy arrays: the CIFAR "python version" batch files (a dict of bytes
keys, a uint8 ``data`` array and a list of int labels) and the ``params`` member of a weights npz (an object array
of float arrays). ``pickle.load`` would run whatever a crafted file asks for. :class:`ArrayUnpickler` knows only
the three numpy names an array needs (``_reconstruct``, ``ndarray``, ``dtype``) and the latin-1 encoding that
protocol-2 pickles use for bytes; every other global is refused
before anything runs. An array's contents arrive in its ``__setstate__`` (the BUILD opcode) as a shape plus the
data; the data must hold exactly the declared number of elements before numpy allocates anything, so a 300-byte
file cannot declare a 3 GB object array.
"""

from __future__ import annotations

import math
import pickle
from typing import IO, Any

import numpy as np

ARRAY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),  # numpy < 2 (and Python 2 era files: the official CIFAR batches)
    ("numpy._core.multiarray", "_reconstruct"),  # numpy >= 2
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """What protocol-2 pickles written by Python 3 call to rebuild a bytes object (``_codecs.encode(s, "latin1")``);
    no other codec is accepted."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafePickle(f"it asks to encode with {encoding!r}")
    return text.encode("latin1")


class UnsafePickle(ValueError):
    """The pickle asks for something other than plain arrays, dicts, lists, numbers and strings."""


class _CheckedArray(np.ndarray):
    """Stands in for ``numpy.ndarray`` while unpickling: checks the declared size against the data it came with."""

    def __new__(cls, shape=(), *args: Any, **kwargs: Any):
        """A pickle may call the constructor itself (REDUCE on ``numpy.ndarray``) with any shape: only the empty
        array that ``_reconstruct`` starts from is allowed, so the data must come through ``__setstate__``."""
        dims = shape if isinstance(shape, tuple) else (shape,)
        if not all(isinstance(n, int) for n in dims) or math.prod(dims) != 0 or args or kwargs:
            raise UnsafePickle(f"it calls numpy.ndarray directly with shape {shape!r}")
        return super().__new__(cls, dims)

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise UnsafePickle("it holds an array with a malformed state")
        shape, dtype, data = state[-4], state[-3], state[-1]
        if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise UnsafePickle(f"it holds an array of shape {shape!r}")
        if not isinstance(dtype, np.dtype):
            raise UnsafePickle("it holds an array without a dtype")
        size = math.prod(shape)
        if dtype.hasobject:
            if not isinstance(data, list) or len(data) != size:
                raise UnsafePickle(f"it declares an object array of {size} elements but holds "
                                   f"{len(data) if isinstance(data, list) else 'no list of'} elements")
        elif not isinstance(data, (bytes, str)) or len(data) != size * dtype.itemsize:
            raise UnsafePickle(f"it declares an array of {size * dtype.itemsize} bytes but holds "
                               f"{len(data) if isinstance(data, (bytes, str)) else 'no'} bytes")
        super().__setstate__(state)


class ArrayUnpickler(pickle.Unpickler):
    """A pickle reader that builds dicts, lists, tuples, numbers, strings and numpy arrays, and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("_codecs", "encode"):
            return _latin1_bytes
        if (module, name) not in ARRAY_GLOBALS:
            raise UnsafePickle(f"it asks to run {module}.{name}")
        return _CheckedArray if name == "ndarray" else super().find_class(module, name)


def _plain(value: Any, seen: dict[int, Any] | None = None) -> Any:
    """Replace the stand-in array class by numpy's own, all the way down. Each object is converted once (``seen``):
    a shared reference stays shared, so ``a = [a, a]`` nested 40 times costs 40 steps, not 2**40."""
    seen = {} if seen is None else seen
    if id(value) in seen:
        return seen[id(value)]
    if isinstance(value, np.ndarray):
        array = np.asarray(value)
        if array.dtype.hasobject:
            out = np.empty(array.shape, dtype=object)
            seen[id(value)] = out
            for i, item in enumerate(array.flat):
                out.flat[i] = _plain(item, seen)
            return out
        seen[id(value)] = array
        return array
    if isinstance(value, dict):
        out = seen[id(value)] = {}
        out.update((key, _plain(item, seen)) for key, item in value.items())
        return out
    if isinstance(value, list):
        out = seen[id(value)] = []
        out.extend(_plain(item, seen) for item in value)
        return out
    if isinstance(value, tuple):
        out = seen[id(value)] = tuple(_plain(item, seen) for item in value)
        return out
    return value


def load_arrays_pickle(file: IO[bytes], encoding: str = "latin1") -> Any:
    """Read one pickle from ``file`` with :class:`ArrayUnpickler`; raises :class:`UnsafePickle` for anything that
    is not plain data (``encoding`` applies to Python 2 strings: "bytes" keeps them as bytes, as the CIFAR
    batches need)."""
    return _plain(ArrayUnpickler(file, encoding=encoding).load())


__all__ = ["ARRAY_GLOBALS", "ArrayUnpickler", "UnsafePickle", "load_arrays_pickle"]
