"""``bash bench/gpu_table.sh check``: every call of a GPU table run, on this CPU through scratch folders (a tiny
WebP bundle staged in parts, a network trained for one epoch, then resumed in a second call to the end, the results
compressed, summed and within the size one call brings back). One network keeps the suite short: `check` with the
whole table took 131 s (README_VGG.md); several networks' results in one call are tested below."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, script_env


@pytest.mark.xdist_group("gpu_table")
def test_gpu_table_check_runs_every_call() -> None:
    argv = ["bash", "bench/gpu_table.sh", "check", "--dataset", "cifar10", "--configs", "k1B2"]
    env = {**script_env(), "PYTHON": sys.executable}
    run = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "3 calls to stage cifar10" in run.stdout
    assert run.stdout.strip().splitlines()[-1].startswith(
        "check: 3 staging calls, then two training calls (k1B2_original: one epoch, then resumed to 2)")


def test_results_that_would_not_fit_a_call_leave_the_largest_weights_on_the_machine(tmp_path, monkeypatch) -> None:
    """Nothing is lost to a late error: the summary says which weights stayed behind, SHA256SUMS lists the rest."""
    import argparse
    import importlib

    from test_publish import original_format_npz

    table = importlib.import_module("bench.gpu_table")
    work = tmp_path / "runs" / "table" / "cifar10"
    for name in ("k1B2_fast60", "k0B1_fast60"):
        (work / name).mkdir(parents=True)
        original_format_npz(work / name / f"model_cifar_10_{name}.npz")
    big = work / "k0B1_fast60" / "model_cifar_10_k0B1_fast60.npz"  # the same, with 300 kB of noise in its kernel
    with np.load(big, allow_pickle=True) as f:
        members = dict(f)
    members["params"][-1] = np.random.default_rng(0).normal(size=(7500, 10)).astype(np.float32)
    np.savez(big, **members)
    monkeypatch.setattr(table, "CALL_LIMIT", 2**16 + 200_000 + table.MARGIN)
    args = argparse.Namespace(dataset="cifar10", recipe="fast60", precision="float32", epochs=None, loop="device",
                              steps_per_execution=250)
    report = {"before": {"k1B2_fast60": 0, "k0B1_fast60": 0}, "ended": dict.fromkeys(["k1B2_fast60", "k0B1_fast60"],
                                                                                    "finished"),
              "seconds": 1.0, "train_images": 50}
    target = table.collect(args, tmp_path, ["k1B2_fast60", "k0B1_fast60"], tmp_path / "out", report)
    summary = json.loads((target / "summary.json").read_text())
    assert summary["networks"]["k0B1_fast60"]["npz_sha256"] == "left on the machine"
    assert (summary["loop"], summary["steps_per_execution"]) == ("device", 250)  # how the networks were trained
    kept = sorted(p.name for p in (target / "weights").iterdir())
    assert kept == ["SHA256SUMS", "model_cifar_10_k1B2_fast60.npz"]
    assert (target / "weights" / "SHA256SUMS").read_text().split() == [
        summary["networks"]["k1B2_fast60"]["npz_sha256"], "model_cifar_10_k1B2_fast60.npz"]
