"""--distribute on two logical CPU devices against one device, impossible settings, and a mixed-precision run."""

import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, script_env
from quant_snn.cli import spiking_main, training_main
from quant_snn.config import CIFAR10, parse_tag
from quant_snn.train import build_training_model
from synthetic import SMALL_CONVS, write_dataset

QUANT = "CIFAR10/Quant_VGG_CIFAR10.py"


def probe(backend, data_dir, out_dir, devices, tag):
    env = {**script_env(), "KERAS_BACKEND": backend}
    command = [sys.executable, str(REPO / "tests" / "parallel_probe.py"), str(data_dir), str(out_dir), str(devices), tag]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def weight_updates(out_dir, tag):
    """The trainable variables' change over the run, as one vector (batch-norm moving statistics left out: in the
    quantized network their large updates would drown the weights')."""
    model, _ = build_training_model(10, parse_tag(tag), seed=0, convs=SMALL_CONVS)
    trainable = [v.trainable for v in model.variables]
    with np.load(out_dir / "init.npz") as f:
        init = [f[key] for key in f.files]
    with np.load(out_dir / f"checkpoint_model_cifar_10_{tag}.npz") as f:
        trained = [f[key] for key in sorted(k for k in f.files if k.startswith("model_"))]
    assert len(init) == len(trained) == len(trainable)
    return np.concatenate([(t - i).ravel() for i, t, keep in zip(init, trained, trainable) if keep])


# Two devices split each global batch; with batch norm synchronized over replicas and per-image augmentation
# draws taken from the global batch, the update is the one-device update up to float rounding. Measured here
# (relative L2 difference of the trainable variables' update after one epoch): k1B2 below 5e-5 on TensorFlow and
# JAX (past conv00 the quantized network's sums are exact, so their order does not matter), FP32 0.018
# (TensorFlow) and 0.085 (JAX); k1B2 on TensorFlow without synchronized batch norm 1.38, with both replicas
# sharing augmentation draws 1.38. The suite runs k1B2.
UPDATE_TOLERANCE = 0.1


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_two_devices_update_like_one(tmp_path, cifar10_dir, backend, tag="k1B2"):
    probe(backend, cifar10_dir, tmp_path / "one", 1, tag)
    assert "data-parallel over 2 devices" in probe(backend, cifar10_dir, tmp_path / "two", 2, tag)
    one, two = weight_updates(tmp_path / "one", tag), weight_updates(tmp_path / "two", tag)
    print(f"{backend} relative difference of the updates: {np.linalg.norm(two - one) / np.linalg.norm(one):.3g}")
    assert np.linalg.norm(two - one) / np.linalg.norm(one) < UPDATE_TOLERANCE


def cli(*args, backend="tensorflow"):
    env = {**script_env(), "KERAS_BACKEND": backend}
    return subprocess.run([sys.executable, str(REPO / QUANT), *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=600)


def error_lines(result):
    return [line for line in result.stderr.splitlines() if "error:" in line]


@pytest.mark.parametrize(
    "backend,args,message",
    [
        ("torch", ["--distribute", "True"], "--distribute is not available on the torch backend"),
        ("tensorflow", ["--distribute", "True", "--cpu_devices", "2", "--batch_size", "15"], "does not split over 2"),
        ("jax", ["--distribute", "True", "--cpu_devices", "2", "--batch_size", "20"], "last batch of 1 images (of 21)"),
    ],
)
def test_impossible_parallel_settings_are_one_error_line(tmp_path, backend, args, message):
    data_dir = tmp_path / "data"
    write_dataset(CIFAR10, data_dir, per_file=8, test=21)
    result = cli("--data_dir", data_dir, "--output_dir", tmp_path, "--epochs", "1", *args, backend=backend)
    assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert len(error_lines(result)) == 1 and not list(tmp_path.glob("*.npz"))


def test_unknown_precision_is_refused_by_argparse(capsys):
    with pytest.raises(SystemExit) as exit_status:
        training_main("cifar10", True, str(REPO / QUANT), ["--precision", "float16"])
    assert exit_status.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_mixed_precision_run_saves_an_npz_that_evaluates_and_spikes_exactly(tmp_path, cifar10_dir, capsys):
    """Trained by the script in a subprocess (the policy is process-wide), evaluated and spiked in this process (in
    float32). The dtype policy itself is tested on every backend in test_model.py."""
    common = ["--data_dir", cifar10_dir, "--output_dir", tmp_path, "--batch_size", "20", "--verbose", "0"]
    trained = cli(*common, "--epochs", "1", "--precision", "mixed_bfloat16")
    assert trained.returncode == 0, trained.stderr[-2000:]
    accuracy = float(trained.stdout.split("finished epoch 1: test accuracy")[1].split()[0])
    capsys.readouterr()
    assert training_main("cifar10", True, str(REPO / QUANT), [*map(str, common), "--mode", "inference"]) == 0
    assert f"test accuracy {accuracy:.4f}" in capsys.readouterr().out
    assert spiking_main("cifar10", str(REPO / "CIFAR10/Spiking_VGG_CIFAR10.py"), [
        "--npz", str(tmp_path / "model_cifar_10_k1B2.npz"), "--data_dir", str(cifar10_dir),
        "--figs_dir", str(tmp_path / "figs")]) == 0
    assert "images classified differently by SNN and ANN: 0 of 20" in capsys.readouterr().out
