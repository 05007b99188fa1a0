"""Array pickles (CIFAR batches, a weights npz's params) are read without running code or allocating what they
merely declare."""

import pickle
import tracemalloc

import numpy as np
import pytest

from quant_snn.safe_npz import UnsafeNpz, load_safe_npz
from quant_snn.safe_pickle import UnsafePickle, load_arrays_pickle
from quant_snn.weights import read_npz

RECONSTRUCT = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's own _reconstruct, whatever its module


class Declares:
    """Pickles as numpy does an array, but declares ``size`` elements of ``dtype`` and brings ``data``."""

    def __init__(self, size, dtype, data):
        self.size, self.dtype, self.data = size, np.dtype(dtype), data

    def __reduce__(self):
        return (RECONSTRUCT, (np.ndarray, (0,), b"b"), (1, (self.size,), self.dtype, False, self.data))


def roundtrip(value, tmp_path):
    path = tmp_path / "value.pkl"
    path.write_bytes(pickle.dumps(value, protocol=2))
    with open(path, "rb") as f:
        return load_arrays_pickle(f, encoding="bytes")


def test_plain_data_comes_back_as_numpy_arrays(tmp_path):
    value = {b"data": np.arange(12, dtype=np.uint8).reshape(2, 6), b"labels": [1, 2], b"name": "x"}
    back = roundtrip(value, tmp_path)
    assert type(back[b"data"]) is np.ndarray and np.array_equal(back[b"data"], value[b"data"])
    assert back[b"labels"] == [1, 2] and back[b"name"] == "x"
    nested = np.empty(2, dtype=object)
    nested[0], nested[1] = np.ones((2, 2), np.float32), np.zeros(3)
    back = roundtrip(nested, tmp_path)
    assert all(type(item) is np.ndarray for item in back) and back[0].shape == (2, 2)


@pytest.mark.parametrize("size,dtype,data", [(366_000_000, object, [1, 2]), (10**12, np.float64, b"\0" * 8)])
def test_a_declared_size_without_the_data_is_refused_before_allocation(tmp_path, size, dtype, data):
    tracemalloc.start()
    try:
        with pytest.raises(UnsafePickle, match="declares"):
            roundtrip(Declares(size, dtype, data), tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20, peak
    with pytest.raises((MemoryError, ValueError)):  # numpy itself would try to allocate (or complain late)
        pickle.loads(pickle.dumps(Declares(10**15, object, [1])))


def test_an_unused_member_is_never_unpacked_and_a_large_one_is_refused(tmp_path):
    """An npz of about 50 KB whose extra member unpacks to 50 MB: reading the weights takes no more than the
    weights; a params member larger than the limit is refused from its declared size."""
    path = tmp_path / "bomb.npz"
    params = np.empty(2, dtype=object)
    params[0], params[1] = np.ones((3, 3, 3, 4), np.float32), np.zeros(4, np.float32)
    np.savez_compressed(path, params=params, epochs=np.int64(1), junk=np.zeros(50 * 2**20, np.uint8))
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    try:
        loaded, info = read_npz(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [p.shape for p in loaded] == [(3, 3, 3, 4), (4,)] and info.epochs == 1
    assert peak < 4 * 2**20, peak
    with pytest.raises(UnsafeNpz, match="unpacks to .* more than the 100 allowed"):
        load_safe_npz(path, keys=("params",), max_bytes=100)


def test_shared_references_are_converted_once_not_copied_exponentially():
    import io
    import pickle

    from quant_snn.safe_pickle import load_arrays_pickle

    a: list = []
    for _ in range(12):  # copying every reference would build 2**12 lists here (2**40 at depth 40, a 1.8 kB file)
        a = [a, a]
    loaded = load_arrays_pickle(io.BytesIO(pickle.dumps(a, protocol=2)))
    while loaded:
        assert loaded[0] is loaded[1]  # still shared, at every depth
        loaded = loaded[0]


class CallsConstructor:
    """Pickles as a direct call ``numpy.ndarray((n,), object)``: about 100 bytes that would allocate 8n bytes."""

    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return (np.ndarray, self.args)


@pytest.mark.parametrize("args", [((300_000_000,), np.dtype(object)), (300_000_000,), ((2, 0), np.dtype("f8"), b"x")])
def test_a_direct_constructor_call_is_refused_before_allocation(tmp_path, args):
    tracemalloc.start()
    try:
        with pytest.raises(UnsafePickle, match="calls numpy.ndarray directly"):
            roundtrip(CallsConstructor(*args), tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20, peak
