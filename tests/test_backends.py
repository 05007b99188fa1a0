"""The same scripts on the TensorFlow, JAX and PyTorch backends: training, inference, the spiking network,
npz files and checkpoints shared between backends, and no TensorFlow import off TensorFlow."""

import shutil
import subprocess
import sys

import pytest

from conftest import REPO, script_env
from quant_snn.config import CIFAR10
from synthetic import hue_images, write_dataset
from track_imports import MARKER

BACKENDS = ("tensorflow", "jax", "torch")
QUANT = "CIFAR10/Quant_VGG_CIFAR10.py"
SPIKING = "CIFAR10/Spiking_VGG_CIFAR10.py"


def run(backend, script, *args):
    env = {**script_env(), "KERAS_BACKEND": backend}
    command = [sys.executable, str(REPO / "tests" / "track_imports.py"), str(REPO / script), *map(str, args)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{backend} {script}:\n{result.stderr[-3000:]}"
    tf_line = [line for line in result.stderr.splitlines() if line.startswith(MARKER)][-1]
    return result.stdout, tf_line.endswith("True")


def last_float(stdout, prefix):
    line = [line for line in stdout.splitlines() if prefix in line][-1]
    return float(line.split(prefix)[1].split()[0].rstrip(",").rstrip(")"))


def log_lines(folder):
    return {name: (folder / f"{name}.txt").read_text() for name in ("accuracy", "spike_num", "sop_num")}


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_train_infer_spike_without_tensorflow(tmp_path, cifar10_dir, backend):
    common = ["--data_dir", cifar10_dir, "--output_dir", tmp_path, "--batch_size", "20", "--verbose", "0"]
    out, tf_trained = run(backend, QUANT, *common, "--epochs", "1")
    trained = last_float(out, "finished epoch 1: test accuracy")
    out, tf_inferred = run(backend, QUANT, *common, "--mode", "inference")
    assert last_float(out, "test accuracy") == pytest.approx(trained, abs=1e-4)
    out, tf_spiked = run(backend, SPIKING, "--npz", tmp_path / "model_cifar_10_k1B2.npz", "--data_dir", cifar10_dir,
                         "--figs_dir", tmp_path / "figs")
    assert "images classified differently by SNN and ANN: 0 of 20" in out
    assert not (tf_trained or tf_inferred or tf_spiked), "TensorFlow was imported"


# One epoch on each backend from the same TensorFlow checkpoint (2 epochs at lr 1e-3 on a synthetic set whose class is
# the hue), at the recipe's second-phase rate 1e-4: weights, batch-norm statistics and Adam moments start equal,
# the shuffles and augmentation draws differ (each backend has its own random generator). Measured here: test
# accuracy 0.78 (TensorFlow), 0.79 (JAX), 0.70 (PyTorch) on 100 images. A backend whose training step were broken
# would fall towards chance (0.1).
ACCURACY_TOLERANCE = 0.15
FLOOR = 0.5


@pytest.fixture(scope="module")
def hue_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hue")
    write_dataset(CIFAR10, root / "data", per_file=60, test=100, seed=4, images=hue_images)
    run("tensorflow", QUANT, "--data_dir", root / "data", "--output_dir", root / "start", "--batch_size", "10",
        "--verbose", "0", "--epochs", "2")
    return root


def test_an_npz_gives_the_same_numbers_on_every_backend(tmp_path, hue_run):
    """Written on TensorFlow; the ANN's accuracy and every spike and SOP count agree on all three backends."""
    tf_npz, cifar10_dir = hue_run / "start" / "model_cifar_10_k1B2.npz", hue_run / "data"
    accuracies, logs = {}, {}
    for backend in BACKENDS:
        figs = tmp_path / backend
        out, _ = run(backend, SPIKING, "--npz", tf_npz, "--data_dir", cifar10_dir, "--figs_dir", figs, "--batch_size", "10")
        accuracies[backend] = last_float(out, "ANN accuracy")
        logs[backend] = log_lines(figs / "k1B2")
    assert len(set(accuracies.values())) == 1, accuracies
    assert logs["jax"] == logs["tensorflow"] and logs["torch"] == logs["tensorflow"]
    assert any(int(v) > 0 for v in logs["tensorflow"]["spike_num"].split())


def test_the_import_check_sees_tensorflow(tmp_path, hue_run):
    """The check can fail: on the TensorFlow backend the same report says True."""
    tf_npz = hue_run / "start" / "model_cifar_10_k1B2.npz"
    _, imported = run("tensorflow", QUANT, "--data_dir", hue_run / "data", "--output_dir", tmp_path, "--mode", "inference",
                      "--npz", tf_npz, "--batch_size", "20", "--verbose", "0")
    assert imported


def test_one_epoch_gives_the_same_accuracy_on_every_backend(tmp_path, hue_run):
    accuracies = {}
    for backend in BACKENDS:
        shutil.copytree(hue_run / "start", tmp_path / backend)
        out, _ = run(backend, QUANT, "--data_dir", hue_run / "data", "--output_dir", tmp_path / backend, "--batch_size",
                     "10", "--verbose", "0", "--epochs", "1", "--resume", "True", "--learning_rate", "0.0001")
        accuracies[backend] = last_float(out, "finished epoch 3: test accuracy")
    assert min(accuracies.values()) >= FLOOR, accuracies
    assert max(accuracies.values()) - min(accuracies.values()) <= ACCURACY_TOLERANCE, accuracies
