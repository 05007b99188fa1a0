import hashlib
import os
import pickle

import numpy as np
import pytest
from synthetic import write_archive, write_dataset

from quant_snn.data import load_cifar, read_batch
from quant_snn.datasets import CIFAR10, CIFAR100
from quant_snn.errors import UserError


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_loads_official_layout(tmp_path):
    write_dataset(CIFAR10, tmp_path, per_file=3, test=4)
    data = load_cifar(CIFAR10, tmp_path)
    assert data.x_train.shape == (15, 32, 32, 3) and data.x_train.dtype == np.uint8
    assert data.x_test.shape == (4, 32, 32, 3) and data.y_test.dtype == np.int32


def test_rows_are_red_green_blue_planes(tmp_path):
    folder = tmp_path / CIFAR10.folder
    folder.mkdir()
    rows = np.zeros((1, 3072), dtype=np.uint8)
    rows[0, :1024], rows[0, 1024:2048], rows[0, 2048:] = 10, 20, 30
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": rows, b"labels": [3]}, f)
    images, labels = read_batch(folder / "test_batch", CIFAR10)
    assert images.shape == (1, 32, 32, 3) and images[0, 5, 7].tolist() == [10, 20, 30] and labels.tolist() == [3]


def test_cifar100_uses_fine_labels(tmp_path):
    write_dataset(CIFAR100, tmp_path, per_file=5, test=5)
    data = load_cifar(CIFAR100, tmp_path)
    assert data.x_train.shape[0] == 5 and data.y_train.max() < 100


def test_missing_file_names_it(tmp_path):
    folder = write_dataset(CIFAR10, tmp_path, per_file=2, test=2)
    (folder / "data_batch_3").unlink()
    with pytest.raises(UserError, match="data_batch_3 is missing"):
        load_cifar(CIFAR10, tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong_shape", "bad_label"])
def test_corrupt_file_names_it(tmp_path, damage):
    folder = write_dataset(CIFAR10, tmp_path, per_file=2, test=2)
    path = folder / "test_batch"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:500])
    elif damage == "garbage":
        path.write_bytes(b"not a pickle at all")
    elif damage == "wrong_shape":
        with open(path, "wb") as f:
            pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
    else:
        with open(path, "wb") as f:
            pickle.dump({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}, f)
    with pytest.raises(UserError, match="test_batch"):
        load_cifar(CIFAR10, tmp_path)


class WritesAFile:
    """Unpickling this would create ``marker``: the proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_a_batch_file_that_would_run_code_is_refused_before_it_runs(tmp_path):
    folder = write_dataset(CIFAR10, tmp_path, per_file=2, test=2)
    marker = tmp_path / "code_ran"
    with open(folder / "data_batch_1", "wb") as f:
        pickle.dump({b"data": np.zeros((1, 3072), np.uint8), b"labels": [WritesAFile(marker)]}, f, protocol=2)
    with pytest.raises(UserError, match=r"data_batch_1 refused: it asks to run (posix|os)\.mkdir"):
        load_cifar(CIFAR10, tmp_path)
    assert not marker.exists()
    with open(folder / "data_batch_1", "rb") as f:
        pickle.load(f)  # the same file through plain pickle: the code runs (so the check above can fail)
    assert marker.exists()


def test_download_verifies_checksum_and_extracts_once(tmp_path, monkeypatch):
    mirror, data_dir = tmp_path / "mirror", tmp_path / "data"
    mirror.mkdir()
    archive = write_archive(CIFAR10, tmp_path / "src", mirror / CIFAR10.archive, per_file=2, test=3)
    spec = CIFAR10.__class__(**{**CIFAR10.__dict__, "md5": md5(archive)})
    data = load_cifar(spec, data_dir, origin=archive.as_uri())
    assert data.x_train.shape[0] == 10 and (data_dir / CIFAR10.folder / "test_batch").is_file()
    assert not [p for p in data_dir.iterdir() if p.name.startswith(".extract-")]
    archive.unlink()  # the extracted folder is used from now on; nothing is fetched again
    assert load_cifar(spec, data_dir, origin=archive.as_uri()).x_test.shape[0] == 3


def test_bad_checksum_leaves_no_file(tmp_path):
    mirror, data_dir = tmp_path / "mirror", tmp_path / "data"
    mirror.mkdir()
    archive = write_archive(CIFAR10, tmp_path / "src", mirror / CIFAR10.archive, per_file=2, test=2)
    with pytest.raises(UserError, match="could not download"):
        load_cifar(CIFAR10, data_dir, origin=archive.as_uri())  # official md5 does not match the synthetic archive
    assert not (data_dir / CIFAR10.archive).exists() and not (data_dir / CIFAR10.folder).exists()


def test_unreachable_origin_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="could not download cifar-100-python.tar.gz"):
        load_cifar(CIFAR100, tmp_path / "data")  # the autouse fixture points downloads at an empty folder
    assert not (tmp_path / "data" / CIFAR100.archive).exists()


def test_corrupt_archive_already_there_is_kept(tmp_path):
    """An archive this run did not download is never deleted, even when it cannot be read."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    bad = data_dir / CIFAR10.archive
    bad.write_bytes(b"\x1f\x8b" + b"broken gzip" * 10)
    spec = CIFAR10.__class__(**{**CIFAR10.__dict__, "md5": md5(bad)})
    with pytest.raises(UserError, match="corrupt .*delete it and run again"):
        load_cifar(spec, data_dir)
    assert bad.is_file() and not (data_dir / CIFAR10.folder).exists()


def test_an_archive_without_the_official_checksum_is_refused_and_kept(tmp_path):
    """Offline, a user's own archive that is not the official one: one error line, and the file stays."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    own = write_archive(CIFAR10, tmp_path / "src", data_dir / CIFAR10.archive, per_file=2, test=2)
    before = own.read_bytes()
    with pytest.raises(UserError, match=f"is not the official {CIFAR10.archive} .*left as it is"):
        load_cifar(CIFAR10, data_dir)
    assert own.read_bytes() == before


def test_a_server_that_stalls_ends_in_one_error(tmp_path, monkeypatch):
    """Headers, then a byte now and then: never a per-read timeout, but the file stops growing."""
    import http.server
    import threading
    import time

    import quant_snn.download as data_module

    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(10**8))
            self.end_headers()
            try:
                for _ in range(200):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:  # the client gave up
                pass

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(data_module, "STALL_WINDOW_S", 1.0)
    monkeypatch.setattr(data_module, "STALL_CHECK_S", 0.2)
    start = time.monotonic()
    try:
        with pytest.raises(UserError, match="could not download .*stalled"):
            load_cifar(CIFAR10, tmp_path / "data", origin=f"http://127.0.0.1:{server.server_port}/x.tar.gz")
    finally:
        server.shutdown()
    assert time.monotonic() - start < 10
    assert not (tmp_path / "data" / CIFAR10.archive).exists()
