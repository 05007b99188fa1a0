"""One npz, one checkpoint, the same numbers on TensorFlow, JAX and PyTorch, and no TensorFlow import off
TensorFlow. The backend of this process is the reference; each other backend runs tests/backend_probe.py once, all
of them side by side."""

import shutil
import subprocess
import sys

import keras
import pytest
from conftest import REPO, script_env
from synthetic import SMALL, hue_images, write_dataset
from test_spiking_cli import random_model
from track_imports import MARKER

from quant_snn.cli import spiking_main
from quant_snn.datasets import CIFAR10
from quant_snn.quant_config import QuantConfig
from quant_snn.train import RunConfig, train
from quant_snn.weights import save_npz

# one pytest worker builds the module fixture once (make test distributes the other tests one by one)
pytestmark = pytest.mark.xdist_group("backends")
BACKENDS = ("tensorflow", "jax", "torch")
SPIKING = str(REPO / "CIFAR10" / "Spiking_VGG_CIFAR10.py")

# One epoch on each backend from the same checkpoint (2 epochs of the small VGG variant at lr 1e-3 on a synthetic
# set whose class is the hue), at the recipe's second-phase rate 1e-4: weights, batch-norm statistics and Adam
# moments start equal, the shuffles and augmentation draws differ (each backend has its own random generator). A
# backend whose training step were broken would fall towards chance (0.1).
ACCURACY_TOLERANCE = 0.15
FLOOR = 0.5


def run_config(data, run_dir, **kwargs):
    return RunConfig(dataset="cifar10", quant=QuantConfig(1, 2), data_dir=data, output_dir=run_dir, batch_size=10,
                     verbose=0, arch=SMALL, **kwargs)


def value(stdout, prefix):
    return float([line for line in stdout.splitlines() if line.startswith(prefix)][-1].split()[-1])


def log_lines(folder):
    return {name: (folder / f"{name}.txt").read_text() for name in ("accuracy", "spike_num", "sop_num")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The reference backend (this process) trains 2 epochs and writes a full-VGG npz with spread batch norms (some
    gamma negative); every other backend resumes the checkpoint, evaluates its npz and spikes that npz."""
    root = tmp_path_factory.mktemp("backends")
    data = root / "data"
    write_dataset(CIFAR10, data, per_file=60, test=100, seed=4, images=hue_images)
    reference = keras.backend.backend()
    train(run_config(data, root / "start", epochs=2))
    npz = root / "vgg_k1B2.npz"
    save_npz(npz, random_model(QuantConfig(1, 2), seed=3), dataset="cifar10", quant=QuantConfig(1, 2), epochs=1,
             test_accuracy=None)
    probes = {}
    for backend in BACKENDS:
        shutil.copytree(root / "start", root / backend)
        if backend != reference:
            command = [sys.executable, str(REPO / "tests" / "track_imports.py"),
                       str(REPO / "tests" / "backend_probe.py"), str(data), str(root / backend), str(npz),
                       str(root / backend / "figs")]
            probes[backend] = subprocess.Popen(command, env={**script_env(), "KERAS_BACKEND": backend},
                                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for backend, process in probes.items():
        stdout, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, f"{backend}:\n{stderr[-3000:]}"
        marker = [line for line in stderr.splitlines() if line.startswith(MARKER)][-1]
        results[backend] = {"stdout": stdout, "tensorflow": marker.endswith("True")}
    return root, reference, npz, results


def test_every_backend_resumes_a_checkpoint_and_evaluates_its_npz(runs):
    root, reference, _, results = runs
    history = train(run_config(root / "data", root / reference, epochs=1, resume=True, learning_rate=1e-4))
    accuracies = {reference: history[-1]["test_accuracy"]}
    assert history[-1]["epoch"] == 3
    for backend, result in results.items():
        assert "\ntrained 3 " in result["stdout"]  # epochs 1-2 came from the checkpoint
        accuracies[backend] = value(result["stdout"], "trained")
        # the npz it wrote gives, evaluated again, the accuracy that training reported
        assert value(result["stdout"], "evaluated") == pytest.approx(accuracies[backend], abs=1e-6)
    assert min(accuracies.values()) >= FLOOR, accuracies
    assert max(accuracies.values()) - min(accuracies.values()) <= ACCURACY_TOLERANCE, accuracies


def test_an_npz_gives_the_same_spikes_sops_and_accuracy_on_every_backend(runs, capsys):
    root, reference, npz, results = runs
    capsys.readouterr()
    assert spiking_main("cifar10", SPIKING, ["--npz", str(npz), "--data_dir", str(root / "data"),
                                             "--figs_dir", str(root / reference / "figs"), "--batch_size", "10"]) == 0
    outputs = {reference: capsys.readouterr().out, **{b: r["stdout"] for b, r in results.items()}}
    for backend, out in outputs.items():
        assert "images classified differently by SNN and ANN: 0 of 100" in out, backend
    accuracies = {backend: [line for line in out.splitlines() if line.startswith("ANN accuracy")]
                  for backend, out in outputs.items()}
    assert len({tuple(a) for a in accuracies.values()}) == 1, accuracies
    logs = {backend: log_lines(root / backend / "figs" / "k1B2") for backend in BACKENDS}
    assert all(logs[backend] == logs[reference] for backend in BACKENDS), logs
    assert min(int(v) for v in logs[reference]["spike_num"].split()) > 0


def test_no_tensorflow_import_off_tensorflow(runs):
    _, _, _, results = runs
    for backend, result in results.items():
        assert result["tensorflow"] == (backend == "tensorflow"), backend


def test_this_module_runs_on_one_worker(request):
    """Under ``--dist loadgroup`` (make test) the group mark keeps the costly module fixture on one pytest worker;
    pytest 9.2 silently broke that (pytest-dev/pytest-xdist#1386) and the fixture ran on both."""
    if request.config.getoption("loadgroup", False):  # set in pytest-xdist workers
        assert request.node.nodeid.endswith("@backends"), request.node.nodeid


def test_the_import_check_sees_tensorflow(tmp_path):
    """The check can fail: a script that imports TensorFlow is reported."""
    script = tmp_path / "imports_tensorflow.py"
    script.write_text("import tensorflow\n")
    result = subprocess.run([sys.executable, str(REPO / "tests" / "track_imports.py"), str(script)],
                            env=script_env(), capture_output=True, text=True, timeout=300)
    assert result.stderr.splitlines()[-1] == f"{MARKER} True", result.stderr[-2000:]
