"""--distribute on two logical CPU devices against one device, impossible settings, and a mixed-precision run."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, script_env
from keras.ops import convert_to_numpy as to_numpy
from synthetic import SMALL, write_dataset

from quant_snn.augment import preprocess_test
from quant_snn.cli import training_main
from quant_snn.data import load_cifar
from quant_snn.datasets import CIFAR10
from quant_snn.model import build_network
from quant_snn.quant_config import QuantConfig, parse_tag
from quant_snn.spiking_utils import build_spiking_model
from quant_snn.train import RunConfig, build_training_model, evaluate, train
from quant_snn.weights import assign_params, read_npz

QUANT = "CIFAR10/Quant_VGG_CIFAR10.py"


def probe(backend, data_dir, out_dir, tag):
    """parallel_probe.py: one epoch on two devices into out_dir/two, then on one into out_dir/one; its output."""
    result = subprocess.run([sys.executable, str(REPO / "tests" / "parallel_probe.py"), str(data_dir), str(out_dir),
                             "2", tag], env={**script_env(), "KERAS_BACKEND": backend}, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def weight_updates(out_dir, tag):
    """The trainable variables' change over the run, as one vector (batch-norm moving statistics left out: in the
    quantized network their large updates would drown the weights')."""
    model, _ = build_training_model(10, parse_tag(tag), seed=0, arch=SMALL)
    trainable = [v.trainable for v in model.variables]
    with np.load(out_dir / "init.npz") as f:
        init = [f[key] for key in f.files]
    with np.load(out_dir / f"checkpoint_model_cifar_10_{tag}.npz") as f:
        trained = [f[key] for key in sorted(k for k in f.files if k.startswith("model_"))]
    assert len(init) == len(trained) == len(trainable)
    return np.concatenate([(t - i).ravel() for i, t, keep in zip(init, trained, trainable) if keep])


# Two devices split each global batch; with batch norm synchronized over replicas and per-image augmentation
# draws taken from the global batch, the update is the one-device update up to float rounding. Measured here
# (relative L2 difference of the trainable variables' update after one epoch) on the full VGG: k1B2 below 5e-5 on
# TensorFlow and JAX (past conv00 the quantized network's sums are exact, so their order does not matter), FP32
# 0.018 (TensorFlow) and 0.085 (JAX); k1B2 on TensorFlow without synchronized batch norm 1.38, with both replicas
# sharing augmentation draws 1.38. The suite runs k1B2 on the small variant (synthetic.SMALL_CONVS): 4.8e-6
# (TensorFlow), 7.2e-7 (JAX); without synchronized batch norm 0.635 (TensorFlow).
UPDATE_TOLERANCE = 0.1


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_two_devices_update_like_one(tmp_path, cifar10_dir, backend, tag="k1B2"):
    output = probe(backend, cifar10_dir, tmp_path, tag)
    assert output.count("data-parallel over") == 1 and "data-parallel over 2 devices" in output
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


def test_mixed_precision_run_saves_an_npz_that_evaluates_and_spikes_exactly(tmp_path, cifar10_dir):
    """One epoch of the small VGG variant in mixed_bfloat16; its npz evaluates (float32) to the recorded accuracy
    and its spiking network equals its float64 ANN on every test image. The dtype policy itself is tested on every
    backend in test_model.py."""
    cfg = RunConfig(dataset="cifar10", quant=QuantConfig(1, 2), data_dir=cifar10_dir, output_dir=tmp_path,
                    epochs=1, batch_size=20, verbose=0, precision="mixed_bfloat16", arch=SMALL)
    history = train(cfg)
    loss, accuracy = evaluate(RunConfig(**{**cfg.__dict__, "mode": "inference"}))
    assert accuracy == pytest.approx(history[-1]["test_accuracy"], abs=1e-6)
    params, _ = read_npz(cfg.npz_path)
    images = to_numpy(preprocess_test(load_cifar(CIFAR10, cifar10_dir).x_test))
    snn = build_spiking_model(params, cfg.quant, arch=SMALL)
    exact = build_network(10, cfg.quant, arch=SMALL, exact=True)
    assign_params(exact, params)
    potential = to_numpy(snn.model.predict_on_batch(images)[0])
    assert np.array_equal(potential.argmax(1), to_numpy(exact.predict_on_batch(images)).argmax(1))

