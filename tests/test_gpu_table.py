"""``bash bench/gpu_table.sh check``: every call of a GPU table run, on this CPU through scratch folders (a tiny
WebP bundle staged in parts, two networks trained side by side for one epoch, then resumed in a second call to the
end, the results compressed, summed and within the size one call brings back)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO, script_env


@pytest.mark.xdist_group("gpu_table")
def test_gpu_table_check_runs_every_call() -> None:
    argv = ["bash", "bench/gpu_table.sh", "check", "--dataset", "cifar10", "--configs", "k0B1,k1B2"]
    env = {**script_env(), "PYTHON": sys.executable}
    run = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "3 calls to stage cifar10" in run.stdout
    assert run.stdout.strip().splitlines()[-1].startswith(
        "check: 3 staging calls, then two training calls (k0B1_original, k1B2_original: one epoch, then resumed to 2)")
