"""The repository speaks only of itself: no committed file names this checkout's absolute path or a folder beside it."""

import subprocess
import sys

import pytest
from conftest import REPO


def tracked_text_files():
    try:
        names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    for name in names:
        path = REPO / name
        if path.suffix in {".png", ".npz"} or not path.is_file():
            continue
        yield name, path.read_text(errors="replace")


def test_no_path_outside_the_repository():
    outside = [str(REPO) + "/", "../shared", "/work/", "/home/", "/root/", "/Users/"]
    offenders = [(name, word) for name, text in tracked_text_files() for word in outside
                 if word in text and name != "tests/test_repository.py"]  # this file names them to look for them
    assert offenders == []


def test_the_numpy_core_loads_no_backend():
    """The integer form, the NIR export, the thresholds and the network descriptions are numpy only: a hardware tool
    chain can use them without Keras, TensorFlow, JAX or PyTorch."""
    code = ("import sys; import quant_snn.architecture, quant_snn.quant_config, quant_snn.datasets, "
            "quant_snn.layout, quant_snn.thresholds, quant_snn.export, quant_snn.nir_export; "
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
