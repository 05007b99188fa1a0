"""Result files are written whole or not at all, under unique temporary names, and a full disk is one clear line."""

import errno
import os
import threading
from pathlib import Path

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


def test_result_files_follow_the_umask_not_mkstemps_0600(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        os.umask(0o077)
        atomic_write_text(tmp_path / "b.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o600


def test_temporaries_of_a_killed_run_are_removed_and_only_those(tmp_path):
    from quant_snn.atomic import remove_stale_temporaries

    stale = [tmp_path / ".model_k1B2.npz.abc123.tmp", tmp_path / ".history_model_k1B2.csv.x.tmp"]
    other = [tmp_path / ".model_k1B4.npz.abc123.tmp", tmp_path / "model_k1B2.npz"]
    for path in stale + other:
        path.write_text("x")
    removed = remove_stale_temporaries((tmp_path / "model_k1B2.npz", tmp_path / "history_model_k1B2.csv"))
    assert sorted(removed) == sorted(stale) and all(p.exists() for p in other) and not any(p.exists() for p in stale)


def test_only_a_plain_file_is_ever_replaced(tmp_path):
    """``--export_nir PATH --overwrite True`` once turned a FIFO (or, as root, /dev/null) into a regular file."""
    from quant_snn.atomic import check_new_file

    fifo, dangling = tmp_path / "pipe", tmp_path / "link"
    os.mkfifo(fifo)
    dangling.symlink_to(tmp_path / "nowhere")
    for path in (fifo, dangling, Path(os.devnull)):
        with pytest.raises(UserError, match="not a plain file"):
            check_new_file(path, overwrite=True)
    plain = tmp_path / "plain.nir"
    plain.write_bytes(b"old")
    assert check_new_file(plain, overwrite=True) == plain
