"""Published weights: compressed copies that read back identically, and a checksum that catches a wrong file."""

import os
import time

import numpy as np
import pytest

from quant_snn.cli.commands import publish_main as main
from quant_snn.errors import UserError
from quant_snn.publish import SUMS_FILE, check_published, recorded_sums
from quant_snn.weights import read_npz


def original_format_npz(path, seed=0):
    """An npz in the original layout: ternary kernels (which compress well) and float batch-norm arrays."""
    rng = np.random.default_rng(seed)
    params = [rng.choice([-1.0, 0.0, 1.0], size=(3, 3, 4, 16)).astype(np.float32)]
    params += [rng.normal(size=16).astype(np.float32) for _ in range(4)]
    params.append(rng.normal(size=(64, 10)).astype(np.float32))
    packed = np.empty(len(params), dtype=object)
    packed[:] = params
    np.savez(path, params=packed, format_version=np.int64(1), dataset=np.str_("cifar10"), quantized=np.bool_(True),
             k=np.int64(1), B=np.float64(2.0), n_classes=np.int64(10), epochs=np.int64(3),
             test_accuracy=np.float64(0.5))
    return params


def test_compressed_copy_reads_back_identically_and_is_checked(tmp_path, capsys):
    source = tmp_path / "model_cifar_10_k1B2.npz"
    params = original_format_npz(source)
    folder = tmp_path / "published"
    assert main([str(source), str(folder)]) == 0
    target = folder / source.name
    assert target.stat().st_size < source.stat().st_size
    again, info = read_npz(target)
    assert all(np.array_equal(a, b) for a, b in zip(again, params, strict=True)) and len(again) == len(params)
    assert (info.epochs, info.dataset, info.quant.tag, info.test_accuracy) == (3, "cifar10", "k1B2", 0.5)
    digest = recorded_sums(folder)[source.name]
    assert check_published(target) == digest == info.sha256
    assert digest in capsys.readouterr().out

    damaged = bytearray(target.read_bytes())
    damaged[len(damaged) // 2] ^= 1
    target.write_bytes(bytes(damaged))
    with pytest.raises(UserError, match="not the published"):
        check_published(target)
    target.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n")  # an LFS pointer
    with pytest.raises(UserError, match="not the published"):
        check_published(target)
    (folder / SUMS_FILE).write_text("")
    with pytest.raises(UserError, match="lists no"):
        check_published(target)
    with pytest.raises(UserError, match="not found"):
        check_published(folder / "missing.npz")


def test_refuses_what_is_not_a_weights_file_and_writes_nothing(tmp_path, capsys):
    source = tmp_path / "notes.npz"
    source.write_text("not a zip")
    folder = tmp_path / "published"
    good = tmp_path / "good.npz"
    original_format_npz(good)
    (tmp_path / "a_file").write_text("")
    for argv in ([source, folder], [good, tmp_path], [good, tmp_path / "a_file"]):
        before = good.read_bytes()
        assert main([str(a) for a in argv]) == 2  # not an npz; into its own folder; into a file
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and len(err.splitlines()) == 1, err
        assert good.read_bytes() == before
    assert not folder.exists() and not (tmp_path / SUMS_FILE).exists()


def test_the_same_npz_always_gives_the_same_bytes(tmp_path, monkeypatch):
    original_format_npz(tmp_path / "m.npz")
    assert main([str(tmp_path / "m.npz"), str(tmp_path / "one")]) == 0
    os.utime(tmp_path / "m.npz", (0, 0))  # the time of publishing, or of the file, must not enter the bytes
    later = time.time() + 3 * 86400
    monkeypatch.setattr(time, "time", lambda: later)
    assert main([str(tmp_path / "m.npz"), str(tmp_path / "two")]) == 0
    assert (tmp_path / "one" / "m.npz").read_bytes() == (tmp_path / "two" / "m.npz").read_bytes()


def test_a_second_file_keeps_the_first_ones_sum(tmp_path):
    folder = tmp_path / "published"
    for name, seed in (("a.npz", 0), ("b.npz", 1)):
        original_format_npz(tmp_path / name, seed)
        assert main([str(tmp_path / name), str(folder)]) == 0
    sums = recorded_sums(folder)
    assert sorted(sums) == ["a.npz", "b.npz"] and sums["a.npz"] != sums["b.npz"]
    assert [check_published(folder / name) for name in ("a.npz", "b.npz")] == [sums["a.npz"], sums["b.npz"]]
    (folder / SUMS_FILE).write_text(f"{sums['a.npz']} *a.npz\n")  # sha256sum -b's form
    assert recorded_sums(folder) == {"a.npz": sums["a.npz"]}
    (folder / SUMS_FILE).write_text(f"{sums['a.npz'].upper()}  a.npz\n")  # sha256sum -c accepts it, so do we
    assert check_published(folder / "a.npz") == sums["a.npz"]


@pytest.mark.parametrize("sums", [b"\xff\xfe not text\n", b"abc  a.npz\n", b"0" * 64 + b"\n"])
def test_a_sums_file_that_is_not_a_list_of_sums_stops_publishing_before_anything_is_written(tmp_path, capsys, sums):
    """A non-UTF-8 SHA256SUMS once left a freshly written npz out of the sums."""
    folder = tmp_path / "published"
    folder.mkdir()
    (folder / SUMS_FILE).write_bytes(sums)
    original_format_npz(tmp_path / "a.npz")
    assert main([str(tmp_path / "a.npz"), str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {folder / SUMS_FILE}") and err.count("\n") == 1, err
    assert sorted(p.name for p in folder.iterdir()) == [SUMS_FILE] and (folder / SUMS_FILE).read_bytes() == sums


def test_a_label_names_the_published_file_so_two_networks_of_one_configuration_sit_side_by_side(tmp_path, capsys):
    folder = tmp_path / "published"
    for seed, label in ((0, "original"), (1, "fast60")):
        original_format_npz(tmp_path / f"run{seed}.npz", seed)
        assert main([str(tmp_path / f"run{seed}.npz"), str(folder), "--label", label]) == 0
    assert sorted(recorded_sums(folder)) == ["model_cifar_10_k1B2_fast60.npz", "model_cifar_10_k1B2_original.npz"]
    assert len(set(recorded_sums(folder).values())) == 2
    assert main([str(tmp_path / "run0.npz"), str(tmp_path / "other"), "--label", "noise1"]) == 2
    assert "network label 'noise1'" in capsys.readouterr().err and not (tmp_path / "other").exists()


def test_a_copy_in_transit_publishes_to_the_same_bytes(tmp_path):
    from quant_snn.publish import compress_npz

    original_format_npz(tmp_path / "m.npz")
    (tmp_path / "transit").mkdir()
    compress_npz(tmp_path / "m.npz", tmp_path / "transit" / "m.npz", level=1)  # bench/gpu_table.py brings back 6
    assert main([str(tmp_path / "m.npz"), str(tmp_path / "direct")]) == 0
    assert main([str(tmp_path / "transit" / "m.npz"), str(tmp_path / "via")]) == 0
    assert (tmp_path / "transit" / "m.npz").read_bytes() != (tmp_path / "direct" / "m.npz").read_bytes()
    assert (tmp_path / "via" / "m.npz").read_bytes() == (tmp_path / "direct" / "m.npz").read_bytes()
