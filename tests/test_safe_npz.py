"""A weights npz cannot run code: crafted pickles in ``params`` or in an extra key are refused before they run."""

import os

import numpy as np
import pytest

from quant_snn.errors import UserError
from quant_snn.safe_npz import UnsafeNpz, load_safe_npz
from quant_snn.weights import read_npz


class Payload:
    """Unpickling this would create ``marker``: the proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def object_array(*items):
    packed = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        packed[i] = item
    return packed


def test_plain_params_list_loads(tmp_path):
    path = tmp_path / "ok.npz"
    params = object_array(np.ones((3, 3, 3, 4), np.float32), np.zeros(4, np.float32))
    np.savez(path, params=params, epochs=np.int64(7), dataset=np.str_("cifar10"))
    arrays = load_safe_npz(path)
    assert [p.shape for p in arrays["params"]] == [(3, 3, 3, 4), (4,)]
    assert int(arrays["epochs"]) == 7 and str(arrays["dataset"]) == "cifar10"


@pytest.mark.parametrize("where", ["params", "training", "notes"])
def test_malicious_pickle_is_refused_without_running(tmp_path, where):
    """In params or in a metadata key the reader knows: refused; in a key it does not know: never unpacked."""
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.npz"
    good = object_array(np.ones(3, np.float32))
    evil = object_array(np.ones(3, np.float32), Payload(marker))
    np.savez(path, **({"params": evil} if where == "params" else {"params": good, where: evil}))
    if where == "notes":
        assert [p.shape for p in read_npz(path)[0]] == [(3,)]
    else:
        with pytest.raises(UserError, match="refused: .*os|refused: .*posix|refused: .*pickled object"):
            read_npz(path)
    assert not marker.exists()


def test_the_same_file_would_run_code_through_np_load(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.npz"
    np.savez(path, params=object_array(Payload(marker)))
    with np.load(path, allow_pickle=True) as f:
        f["params"]
    assert marker.exists()  # so the test above would fail with the old loader


def test_non_numeric_elements_are_refused(tmp_path):
    path = tmp_path / "strings.npz"
    np.savez(path, params=object_array(np.ones(2, np.float32), np.array(["a", "b"])))
    with pytest.raises(UnsafeNpz, match="not a numeric array"):
        load_safe_npz(path)
