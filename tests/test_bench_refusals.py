"""The bench scripts refuse bad input with one ``error:`` line and exit status 2, before any long work, and
``bench/gpu_stage.py`` writes and deletes nothing outside its named outputs, whatever its manifest or flags say."""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import lzma
import random
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from quant_snn.cli.flags import run_cli
from quant_snn.errors import UserError

FOLDER = "cifar-10-batches-py"
ARCHIVE = f"{FOLDER}.tar.xz"


def bench(name: str) -> ModuleType:
    return importlib.import_module(f"bench.{name}")


def exit_code(main: Callable[[list[str]], int | None], argv: list[str]) -> int:
    """``main(argv)`` as its command line runs it: a UserError gives status 2, argparse exits 2 itself."""
    try:
        return run_cli(lambda: main(argv))
    except SystemExit as exc:
        return int(exc.code)


def refused(capsys, main: Callable[[list[str]], int | None], argv: list[str]) -> list[str]:
    """The lines on stderr of ``main(argv)``, asserting exit status 2 and nothing on stdout."""
    code = exit_code(main, argv)
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (code, out, err)
    return err.strip().splitlines()


def argparse_error(capsys, main: Callable[[list[str]], int | None], argv: list[str]) -> str:
    """A flag refused while parsing: argparse's usage, then its one ``prog: error: ...`` line."""
    lines = refused(capsys, main, argv)
    assert lines and lines[0].startswith("usage:") and ": error: " in lines[-1], lines
    return lines[-1]


def one_error_line(capsys, main: Callable[[list[str]], int | None], argv: list[str]) -> str:
    """A UserError: exactly one line on stderr, starting with ``error:``."""
    lines = refused(capsys, main, argv)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def receive_argv(stage: Path, staged: Path, data_dir: Path) -> list[str]:
    return ["receive", "--stage", str(stage), "--staged", str(staged), "--data_dir", str(data_dir)]


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A tiny stand-in for the CIFAR-10 folder: two files, 40 kB that xz cannot shrink, so several 8 KiB parts."""
    folder = tmp_path / "data" / FOLDER
    folder.mkdir(parents=True)
    (folder / "data_batch_1").write_bytes(random.Random(0).randbytes(40_000))
    (folder / "batches.meta").write_bytes(b"meta")
    return tmp_path / "data"


@pytest.fixture
def kept(tmp_path: Path, data_dir: Path, capsys) -> Path:
    """A complete ``.stage/kept`` folder, as pack and receive leave it."""
    stage = bench("gpu_stage")
    stage.pack("cifar10", data_dir, tmp_path / "parts", 8 / 1024)
    stage.receive(tmp_path / "parts", tmp_path / "kept")
    capsys.readouterr()
    return tmp_path / "kept"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stage_archive(staged: Path, data: bytes) -> None:
    """``staged`` holding ``data`` as the one part of a manifest whose sums all match: only its content is wrong."""
    staged.mkdir(parents=True, exist_ok=True)
    (staged / f"{ARCHIVE}.000").write_bytes(data)
    manifest = {
        "dataset": "cifar10",
        "folder": FOLDER,
        "archive": ARCHIVE,
        "size": len(data),
        "sha256": sha(data),
        "parts": [{"name": f"{ARCHIVE}.000", "size": len(data), "sha256": sha(data)}],
    }
    (staged / "manifest.json").write_text(json.dumps(manifest))


def xz_tar(*members: tarfile.TarInfo) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, 1 if kind == tarfile.REGTYPE else 0
    return info


def filled(value: object, tmp: Path) -> object:
    """``value`` with ``{tmp}`` in its strings replaced by the test's folder."""
    if isinstance(value, str):
        return value.format(tmp=tmp)
    if isinstance(value, list):
        return [filled(v, tmp) for v in value]
    if isinstance(value, dict):
        return {k: filled(v, tmp) for k, v in value.items()}
    return value


def test_gpu_stage_check_still_round_trips(data_dir: Path, capsys) -> None:
    assert exit_code(bench("gpu_stage").main, ["check", "--data_dir", str(data_dir), "--part_mib", "0.01"]) == 0
    assert "arrived identical" in capsys.readouterr().out


@pytest.mark.parametrize(
    "change",
    [
        {"archive": "../escaped.tar.xz"},
        {"archive": "{tmp}/escaped.tar.xz"},
        {"folder": "../../escaped"},
        {"folder": "cifar-100-python"},
        {"dataset": "imagenet"},
        {"size": "40000"},
        {"size": -1},
        {"sha256": "A" * 64},
        {"sha256": "abc"},
        {"parts": "cifar-10-batches-py.tar.xz.000"},
        {"parts": []},
        {"parts": [{"name": "../escaped", "size": 1, "sha256": "0" * 64}]},
        {"parts": [{"name": "{tmp}/escaped", "size": 1, "sha256": "0" * 64}]},
        {"parts": [{"name": f"{ARCHIVE}.000", "size": True, "sha256": "0" * 64}]},
    ],
)
def test_unpack_refuses_a_hostile_manifest_and_writes_nothing(tmp_path: Path, kept: Path, change, capsys) -> None:
    manifest = json.loads((kept / "manifest.json").read_text())
    manifest.update(filled(change, tmp_path))
    (kept / "manifest.json").write_text(json.dumps(manifest))
    before, out = tree(tmp_path), tmp_path / "out"
    one_error_line(capsys, bench("gpu_stage").main, ["unpack", "--staged", str(kept), "--data_dir", str(out)])
    assert tree(tmp_path) == before  # no escaped file, no data folder, no joined archive left in kept/


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"dataset": "cifar10"}'])
def test_receive_and_unpack_refuse_an_unreadable_manifest(tmp_path: Path, kept: Path, text: str, capsys) -> None:
    (kept / "manifest.json").write_text(text)
    before = tree(tmp_path)
    stage = bench("gpu_stage")
    assert "manifest" in one_error_line(
        capsys, stage.main, ["unpack", "--staged", str(kept), "--data_dir", str(tmp_path / "out")]
    )
    assert "manifest" in one_error_line(
        capsys,
        stage.main,
        ["receive", "--stage", str(tmp_path / "parts"), "--staged", str(kept), "--data_dir", str(tmp_path / "data")],
    )
    assert tree(tmp_path) == before


@pytest.mark.parametrize(
    "members",
    [
        [member(f"{FOLDER}/a"), member("../escaped")],
        [member(f"{FOLDER}/a"), member(f"{FOLDER}/../escaped")],
        [member(f"{FOLDER}/a"), member("/tmp/escaped-by-test-bench-refusals")],
        [member(f"{FOLDER}/a"), member(f"{FOLDER}/link", tarfile.SYMTYPE, "a")],
        [member(f"{FOLDER}/a"), member(f"{FOLDER}/hard", tarfile.LNKTYPE, f"{FOLDER}/a")],
        [member("other/a")],
    ],
)
def test_unpack_refuses_an_archive_member_outside_or_a_link(tmp_path: Path, members, capsys) -> None:
    stage_archive(tmp_path / "kept", xz_tar(*members))
    before, out = tree(tmp_path), tmp_path / "data"
    line = one_error_line(
        capsys, bench("gpu_stage").main, ["unpack", "--staged", str(tmp_path / "kept"), "--data_dir", str(out)]
    )
    assert "nothing unpacked" in line
    assert not Path("/tmp/escaped-by-test-bench-refusals").exists()
    assert set(tree(tmp_path)) - set(before) <= {"data"}  # nothing extracted, no joined archive left


@pytest.mark.parametrize("data", [b"not an xz archive", lzma.compress(b"x" * 1000)[:-20]])
def test_unpack_refuses_an_archive_that_is_not_xz_tar(tmp_path: Path, data: bytes, capsys) -> None:
    stage_archive(tmp_path / "kept", data)
    out = tmp_path / "data"
    one_error_line(
        capsys, bench("gpu_stage").main, ["unpack", "--staged", str(tmp_path / "kept"), "--data_dir", str(out)]
    )
    assert not out.exists() or not any(out.iterdir())
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == [f"{ARCHIVE}.000", "manifest.json"]


def test_unpack_refuses_a_damaged_part_and_leaves_no_joined_archive(kept: Path, tmp_path: Path, capsys) -> None:
    part = kept / f"{ARCHIVE}.001"
    part.write_bytes(bytes(len(part.read_bytes())))
    before = tree(tmp_path)
    line = one_error_line(
        capsys, bench("gpu_stage").main, ["unpack", "--staged", str(kept), "--data_dir", str(tmp_path / "out")]
    )
    assert "damaged" in line and tree(tmp_path) == before


@pytest.mark.parametrize("stage", ["data", "data/cifar-10-batches-py", "data/cifar-10-batches-py/inside", "."])
def test_pack_refuses_a_stage_that_is_holds_or_lies_in_the_data(tmp_path: Path, data_dir: Path, stage, capsys) -> None:
    before = tree(tmp_path)
    line = one_error_line(
        capsys, bench("gpu_stage").main, ["pack", "--data_dir", str(data_dir), "--stage", str(tmp_path / stage)]
    )
    assert "dataset folder" in line and tree(tmp_path) == before


def test_pack_deletes_only_an_earlier_stage(tmp_path: Path, data_dir: Path, capsys) -> None:
    stage, main = tmp_path / "parts", bench("gpu_stage").main
    argv = ["pack", "--data_dir", str(data_dir), "--stage", str(stage), "--part_mib", "0.01"]
    stage.mkdir()
    assert exit_code(main, argv) == 0  # empty: fine
    assert exit_code(main, argv) == 0  # an earlier pack's parts: replaced
    capsys.readouterr()
    (stage / "part-0" / "notes.txt").write_text("mine")
    line = one_error_line(capsys, main, argv)
    assert "nothing deleted" in line and (stage / "part-0" / "notes.txt").read_text() == "mine"
    (stage / "part-0" / "notes.txt").unlink()
    (stage / "results.csv").write_text("mine")
    one_error_line(capsys, main, argv)
    assert (stage / "results.csv").read_text() == "mine"


@pytest.mark.parametrize("part_mib", ["0", "-1", "nan", "inf", "1e-9"])
def test_pack_refuses_an_impossible_part_size(tmp_path: Path, data_dir: Path, part_mib: str, capsys) -> None:
    before = tree(tmp_path)
    argv = ["pack", "--data_dir", str(data_dir), "--stage", str(tmp_path / "parts"), f"--part_mib={part_mib}"]
    line = one_error_line(capsys, bench("gpu_stage").main, argv)
    assert line.startswith("error: --part_mib must be a finite number") and tree(tmp_path) == before


def test_receive_moves_nothing_unless_all_is_what_pack_writes(tmp_path: Path, data_dir: Path, capsys) -> None:
    stage = bench("gpu_stage")
    stage.pack("cifar10", data_dir, tmp_path / "parts", 8 / 1024)
    capsys.readouterr()
    (tmp_path / "parts" / "part-1" / "evil.py").write_text("")
    before = tree(tmp_path)
    line = one_error_line(capsys, stage.main, receive_argv(tmp_path / "parts", tmp_path / "kept", data_dir))
    assert "nothing moved" in line and tree(tmp_path) == before
    line = one_error_line(capsys, stage.main, receive_argv(tmp_path / "parts", data_dir / FOLDER, data_dir))
    assert "dataset folder" in line and tree(tmp_path) == before


@pytest.mark.parametrize(
    "script, argv, message",
    [
        ("snn_throughput", ["--images", "0"], "argument --images: must be at least 1, got 0"),
        ("snn_throughput", ["--images", "-5"], "argument --images: must be at least 1, got -5"),
        ("snn_throughput", ["--rounds", "0"], "argument --rounds: must be at least 1"),
        ("snn_throughput", ["--passes", "0"], "argument --passes: must be at least 1"),
        ("snn_throughput", ["--oracle_images", "0"], "argument --oracle_images: must be at least 1"),
        ("snn_throughput", ["--batch_sizes", "50,0"], "argument --batch_sizes: must be at least 1, got 0"),
        ("snn_throughput", ["--batch_sizes", "50,x"], "argument --batch_sizes: expected a whole number"),
        ("train_throughput", ["--steps", "0"], "argument --steps: must be at least 1, got 0"),
        ("train_throughput", ["--rounds", "-1"], "argument --rounds: must be at least 1"),
        ("train_throughput", ["--batch_size", "0"], "argument --batch_size: must be at least 1"),
        ("train_throughput", ["--steps_per_execution", "0"], "argument --steps_per_execution: must be at least 1"),
        ("step_cost", ["--bandwidth_tbs", "0"], "argument --bandwidth_tbs: must be a finite number > 0"),
        ("gpu_table", ["train", "--steps_per_execution", "0"], "argument --steps_per_execution: must be at least 1"),
        ("integer_form_check", ["--npz", "x.npz", "--limit", "0"], "argument --limit: must be at least 1, got 0"),
        ("spike_agreement", ["--npz", "x.npz", "--threads", "0"], "argument --threads: must be at least 1"),
        ("spike_agreement", ["--npz", "x.npz", "--jobs", "0"], "argument --jobs: must be at least 1"),
        ("spike_agreement", ["--npz", "x.npz", "--limit", "0"], "argument --limit: must be at least 1"),
        ("spike_agreement", ["--npz", "x.npz", "--batch_sizes", "0"], "argument --batch_sizes: must be at least 1"),
        ("gpu_campaign", ["--deadline", "nan"], "argument --deadline: must be a finite number > 0"),
        ("gpu_campaign", ["--epochs", "0"], "argument --epochs: must be at least 1"),
        ("gpu_campaign", ["--original_epochs", "-1"], "argument --original_epochs: must be at least 0"),
        ("gpu_table", ["train", "--deadline", "inf"], "argument --deadline: must be a finite number > 0"),
        ("gpu_table", ["train", "--epochs_per_call", "0"], "argument --epochs_per_call: must be at least 1"),
        ("gpu_table", ["check", "--epochs", "0"], "argument --epochs: must be at least 1"),
    ],
)
def test_counts_are_refused_while_the_flags_are_parsed(script: str, argv: list[str], message: str, capsys) -> None:
    assert message in argparse_error(capsys, bench(script).main, argv)


@pytest.mark.parametrize(
    "script, argv, message",
    [
        ("snn_throughput", ["--noise", "1.5"], "error: --noise must be in [0, 1), got 1.5"),
        ("lenet_authors_check", ["--npz", "{tmp}/missing.npz"], "error: weights file {tmp}/missing.npz not found"),
        ("spike_agreement", ["--npz", "x.npz", "--variants", "jax"], "error: --variants: a subset of"),
        ("spike_agreement", ["--npz", "x.npz", "--out", "{tmp}/file"], "error: --out {tmp}/file is not a folder"),
        ("backend_throughput", ["--backends", "tensorflow,tensorfow"], "error: --backends takes comma-separated"),
        ("gpu_campaign", ["--candidates", "nope", "--work", "{tmp}/w", "--out", "{tmp}/o"], "error: unknown candid"),
        ("gpu_campaign", ["--other_configs", "k9", "--work", "{tmp}/w", "--out", "{tmp}/o"], "error: unknown config"),
        ("gpu_table", ["stage"], "error: stage needs --bundle"),
        ("gpu_table", ["stage", "--bundle", "{tmp}/missing.npz"], "error: --bundle {tmp}/missing.npz not found"),
        ("gpu_table", ["train", "--configs", "k1B2,k1B2", "--out", "{tmp}/o"], "error: --configs 'k1B2,k1B2'"),
        ("gpu_table", ["train", "--configs", "k1Bx", "--out", "{tmp}/o"], "error: unknown network 'k1Bx_fast60'"),
        ("gpu_table", ["train", "--recipe", "slow", "--out", "{tmp}/o"], "error: unknown --recipe 'slow'"),
        ("gpu_table", ["train", "--precision", "half", "--out", "{tmp}/o"], "error: unknown --precision 'half'"),
        ("gpu_table", ["train", "--loop", "device", "--out", "{tmp}/o"], "error: --loop device needs the JAX backend"),
        ("train_throughput", ["--device_loop"], "error: --loop device needs the JAX backend"),
        ("step_cost", ["--configs", "k1B2,k9"], "error: unknown network 'k9'"),
        ("step_cost", ["--precisions", "float32,half"], "error: unknown --precision 'half'"),
        ("step_cost", [], "error: step_cost compiles with JAX: run it with KERAS_BACKEND=jax (this is tensorflow)"),
        ("gpu_table", ["train", "--out", "{tmp}/file"], "error: --out {tmp}/file already holds cifar100/ (or is not"),
    ],
)
def test_bad_input_gives_one_error_line(tmp_path: Path, script: str, argv: list[str], message: str, capsys) -> None:
    (tmp_path / "file").write_text("")
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert one_error_line(capsys, bench(script).main, argv).startswith(message.format(tmp=tmp_path))
    assert tree(tmp_path) == ["file"]


def test_backend_throughput_reports_a_failed_run_in_one_line(monkeypatch, capsys) -> None:
    module = bench("backend_throughput")
    stderr = (
        "usage: train_throughput.py [-h]\ntrain_throughput.py: error: argument --steps: must be at least 1, got 0\n"
    )
    monkeypatch.setattr(module.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 2, "", stderr))
    line = one_error_line(capsys, module.main, ["--backends", "tensorflow", "--", "--steps", "0"])
    assert line == (
        "error: tensorflow: train_throughput.py failed: train_throughput.py: error: argument --steps: "
        "must be at least 1, got 0"
    )


def test_gpu_table_trains_nothing_before_every_part_is_there(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="staged parts are not complete: carry the remaining parts first"):
        bench("gpu_table").ensure_data(tmp_path, "cifar100")
    assert tree(tmp_path) == []
