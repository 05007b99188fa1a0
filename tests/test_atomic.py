"""Result files are written whole or not at all, under unique temporary names, and a full disk is one clear line."""

import errno
import threading

import pytest

from quant_snn.atomic import atomic_write, atomic_write_text
from quant_snn.errors import UserError


def test_replaces_in_one_piece_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / "result.txt"
    atomic_write_text(path, "old\n")
    atomic_write_text(path, "new\n")
    assert path.read_text() == "new\n" and sorted(p.name for p in tmp_path.iterdir()) == ["result.txt"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "result.txt"
    atomic_write_text(path, "old\n")

    def broken(f):
        f.write(b"half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["result.txt"]


def test_disk_full_is_one_clear_error(tmp_path):
    def full(f):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(UserError, match="no space left to write .*result.txt"):
        atomic_write(tmp_path / "result.txt", full)
    assert list(tmp_path.iterdir()) == []


def test_concurrent_writers_never_share_a_temporary_file(tmp_path):
    path = tmp_path / "result.txt"
    names = []
    barrier = threading.Barrier(8)

    def writer(i):
        def write(f):
            names.append(f.name)
            barrier.wait()  # all eight temporaries exist at once
            f.write(f"{i}\n".encode() * 1000)
        atomic_write(path, write)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 8
    lines = set(path.read_text().splitlines())
    assert len(lines) == 1  # one writer's whole file, never a mixture
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.txt"]
