"""One npz, one checkpoint, the same numbers on TensorFlow, JAX and PyTorch, and no TensorFlow import off
TensorFlow. The backend of this process is the reference; each other backend runs tests/backend_probe.py once."""

import shutil
import subprocess
import sys

import keras
import pytest

from conftest import REPO, script_env
from quant_snn.cli import spiking_main, training_main
from quant_snn.config import CIFAR10
from synthetic import hue_images, write_dataset
from track_imports import MARKER

BACKENDS = ("tensorflow", "jax", "torch")
QUANT, SPIKING = str(REPO / "CIFAR10" / "Quant_VGG_CIFAR10.py"), str(REPO / "CIFAR10" / "Spiking_VGG_CIFAR10.py")
NPZ = "model_cifar_10_k1B2.npz"

# One epoch on each backend from the same checkpoint (2 epochs at lr 1e-3 on a synthetic set whose class is the hue),
# at the recipe's second-phase rate 1e-4: weights, batch-norm statistics and Adam moments start equal, the shuffles
# and augmentation draws differ (each backend has its own random generator). Measured here: test accuracy 0.78
# (TensorFlow), 0.79 (JAX), 0.70 (PyTorch) on 100 images. A backend whose training step were broken would fall
# towards chance (0.1).
ACCURACY_TOLERANCE = 0.15
FLOOR = 0.5


def last_float(stdout, prefix):
    line = [line for line in stdout.splitlines() if prefix in line][-1]
    return float(line.split(prefix)[1].split()[0].rstrip(",").rstrip(")"))


def log_lines(folder):
    return {name: (folder / f"{name}.txt").read_text() for name in ("accuracy", "spike_num", "sop_num")}


def common(data, run_dir):
    return ["--data_dir", str(data), "--output_dir", str(run_dir), "--batch_size", "10", "--verbose", "0"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The reference backend (this process) trains 2 epochs, spikes its npz and resumes one epoch; every other
    backend resumes the same checkpoint, evaluates its npz and spikes the reference npz (one process each)."""
    root = tmp_path_factory.mktemp("backends")
    data = root / "data"
    write_dataset(CIFAR10, data, per_file=60, test=100, seed=4, images=hue_images)
    reference = keras.backend.backend()
    assert training_main("cifar10", True, QUANT, [*common(data, root / "start"), "--epochs", "2"]) == 0
    probes = {}
    for backend in BACKENDS:  # the other backends' probes run side by side
        run_dir, figs = root / backend, root / backend / "figs"
        shutil.copytree(root / "start", run_dir)
        if backend != reference:
            command = [sys.executable, str(REPO / "tests" / "track_imports.py"),
                       str(REPO / "tests" / "backend_probe.py"), str(data), str(run_dir), str(root / "start" / NPZ),
                       str(figs)]
            probes[backend] = subprocess.Popen(command, env={**script_env(), "KERAS_BACKEND": backend},
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for backend, process in probes.items():
        stdout, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, f"{backend}:\n{stderr[-3000:]}"
        marker = [line for line in stderr.splitlines() if line.startswith(MARKER)][-1]
        results[backend] = {"stdout": stdout, "tensorflow": marker.endswith("True")}
    return root, reference, results


def test_every_backend_resumes_a_checkpoint_and_evaluates_its_npz(runs, capsys):
    root, reference, results = runs
    capsys.readouterr()
    assert training_main("cifar10", True, QUANT, [*common(root / "data", root / reference), "--epochs", "1",
                                                   "--resume", "True", "--learning_rate", "0.0001"]) == 0
    outputs = {reference: capsys.readouterr().out, **{b: r["stdout"] for b, r in results.items()}}
    accuracies = {}
    for backend, out in outputs.items():
        accuracies[backend] = last_float(out, "finished epoch 3: test accuracy")
        if backend != reference:  # the npz it wrote gives, evaluated again, the accuracy training reported
            assert last_float(out, ", test accuracy") == pytest.approx(accuracies[backend], abs=1e-4)
    assert min(accuracies.values()) >= FLOOR, accuracies
    assert max(accuracies.values()) - min(accuracies.values()) <= ACCURACY_TOLERANCE, accuracies


def test_an_npz_gives_the_same_spikes_sops_and_accuracy_on_every_backend(runs, capsys):
    root, reference, results = runs
    capsys.readouterr()
    figs = root / reference / "figs"
    assert spiking_main("cifar10", SPIKING, ["--npz", str(root / "start" / NPZ), "--data_dir", str(root / "data"),
                                             "--figs_dir", str(figs), "--batch_size", "10"]) == 0
    outputs = {reference: capsys.readouterr().out, **{b: r["stdout"] for b, r in results.items()}}
    assert "images classified differently by SNN and ANN: 0 of 100" in outputs[reference]
    accuracies = {backend: last_float(out, "ANN accuracy") for backend, out in outputs.items()}
    assert len(set(accuracies.values())) == 1, accuracies
    logs = {backend: log_lines(root / backend / "figs" / "k1B2") for backend in BACKENDS}
    assert all(logs[backend] == logs[reference] for backend in BACKENDS), logs
    assert any(int(v) > 0 for v in logs[reference]["spike_num"].split())


def test_no_tensorflow_import_off_tensorflow(runs):
    _, _, results = runs
    for backend, result in results.items():
        assert result["tensorflow"] == (backend == "tensorflow"), backend


def test_the_import_check_sees_tensorflow(tmp_path):
    """The check can fail: a script that imports TensorFlow is reported."""
    script = tmp_path / "imports_tensorflow.py"
    script.write_text("import tensorflow\n")
    result = subprocess.run([sys.executable, str(REPO / "tests" / "track_imports.py"), str(script)],
                            env=script_env(), capture_output=True, text=True, timeout=300)
    assert result.stderr.splitlines()[-1] == f"{MARKER} True", result.stderr[-2000:]
