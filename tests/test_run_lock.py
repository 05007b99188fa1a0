"""A second training run on the same output files stops with one line; other configurations and killed runs do
not hold anything up."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO

from quant_snn.errors import UserError
from quant_snn.quant_config import QuantConfig
from quant_snn.run_lock import exclusive_run, lock_path
from quant_snn.train import RunConfig, train


def test_second_run_on_the_same_files_is_refused_and_writes_nothing(tmp_path, cifar10_dir):
    cfg = RunConfig(dataset="cifar10", quant=QuantConfig(1, 2), data_dir=cifar10_dir, output_dir=tmp_path, epochs=1,
                    batch_size=20, verbose=0)
    with exclusive_run(tmp_path, cfg.npz_path.stem):
        with pytest.raises(UserError, match="another run .* is writing"):
            train(cfg)
        assert not cfg.npz_path.exists() and not cfg.checkpoint_path.exists()
        with exclusive_run(tmp_path, "model_cifar_10_k0B1"):  # another configuration in the same folder
            pass
    with exclusive_run(tmp_path, cfg.npz_path.stem):  # released at the end of the first run
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from quant_snn.run_lock import "
         "exclusive_run\nwith exclusive_run(Path(sys.argv[1]), 'model'):\n print('held', flush=True); time.sleep(60)",
         str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(UserError, match=f"pid {holder.pid}"):
        with exclusive_run(tmp_path, "model"):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    time.sleep(0.1)
    with exclusive_run(tmp_path, "model"):
        assert lock_path(tmp_path, "model").read_text() != str(holder.pid)


def test_a_lock_planted_as_a_symbolic_link_is_refused_and_its_target_kept(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    (tmp_path / ".model_cifar_10_k1B2.lock").symlink_to(target)
    with pytest.raises(UserError, match="symbolic link"):
        with exclusive_run(tmp_path, "model_cifar_10_k1B2"):
            pass
    assert target.read_text() == "keep me\n"
