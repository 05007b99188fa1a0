"""Spiking_VGG scripts on tiny synthetic data: logs, statistics and refused weights files. One run goes through the
script in a subprocess; the others call its entry point (``spiking_main``) in this process."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, script_env

from quant_snn.cli import spiking_main
from quant_snn.model import build_network
from quant_snn.quant_config import FP32, QuantConfig
from quant_snn.seeding import set_seed
from quant_snn.weights import model_params, save_npz


def run(script, *args):
    return subprocess.run([sys.executable, str(REPO / script), *map(str, args)], env=script_env(),
                          capture_output=True, text=True, timeout=300)


def random_model(quant, n_classes=10, seed=0):
    set_seed(seed)  # module fixtures run before the per-test seeding
    model = build_network(n_classes, quant)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.name.startswith("bn"):
            layer.gamma.assign(rng.normal(1, 0.3, layer.gamma.shape) * rng.choice([-1, 1, 1, 1], layer.gamma.shape))
            layer.beta.assign(rng.normal(0.5, 0.3, layer.beta.shape))
            layer.moving_variance.assign(np.full(layer.moving_variance.shape, 0.05))
    return model


@pytest.fixture(scope="module")
def npz_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("npz")
    k1b2 = random_model(QuantConfig(1, 2))
    save_npz(folder / "k1B2.npz", k1b2, dataset="cifar10", quant=QuantConfig(1, 2), epochs=7, test_accuracy=0.1)
    save_npz(folder / "fp32.npz", random_model(FP32), dataset="cifar10", quant=FP32, epochs=1, test_accuracy=0.1)
    save_npz(folder / "c100.npz", random_model(QuantConfig(1, 2), 100), dataset="cifar100", quant=QuantConfig(1, 2),
             epochs=1, test_accuracy=0.1)
    params = model_params(k1b2)
    packed = np.empty(len(params), dtype=object)
    for i, p in enumerate(params):
        packed[i] = p
    np.savez(folder / "model_cifar_10.npz", params=packed)  # the original's format: no metadata
    return folder


SPIKING10 = str(REPO / "CIFAR10" / "Spiking_VGG_CIFAR10.py")


def in_process(capsys, *argv):
    """(exit status, stdout, error lines) of the Spiking script's entry point; no traceback on stderr. Without XLA,
    whose compilation would take most of the time on 20 images (the subprocess run above uses it)."""
    capsys.readouterr()
    code = spiking_main("cifar10", SPIKING10, [str(a) for a in argv] + ["--xla", "False"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, [line for line in err.splitlines() if line.startswith("error:")]


def lines(path):
    return [int(v) for v in path.read_text().splitlines()]


def test_spiking_script_logs_and_stats(tmp_path, cifar10_dir, npz_files):
    figs = tmp_path / "figs"
    result = run("CIFAR10/Spiking_VGG_CIFAR10.py", "--k", "1", "--B", "2", "--npz", npz_files / "k1B2.npz",
                 "--data_dir", cifar10_dir, "--figs_dir", figs, "--batch_size", "8", "--time_steps", "2")
    assert result.returncode == 0, result.stderr
    logs = figs / "k1B2"
    accuracy, spikes, sops = (lines(logs / f"{name}.txt") for name in ("accuracy", "spike_num", "sop_num"))
    assert len(accuracy) == len(spikes) == len(sops) == 3 * 2  # 20 images in batches of 8, two time steps
    assert all(0 <= a <= 8 for a in accuracy) and all(s > 0 for s in spikes) and all(s > 0 for s in sops)
    stats = json.loads((logs / "stats.json").read_text())
    assert stats["config"]["images"] == 20 and stats["config"]["time_steps"] == 2 and stats["config"]["npz_epochs"] == 7
    assert stats["warnings"] == [] and "warning" not in result.stderr
    final_step = accuracy[1::2]
    assert sum(final_step) == round(stats["snn_accuracy"] * 20)
    assert f"SNN accuracy {stats['snn_accuracy']:.4f}" in result.stdout
    assert f"differently by SNN and ANN: {stats['differing_images']} of 20" in result.stdout
    layers = stats["layers"]
    assert [layer["name"] for layer in layers][:2] == ["conv00", "conv0"] and layers[-1]["name"] == "dense"
    assert all(0 <= layer["firing_rate"] <= 1 for layer in layers[:-1])
    assert layers[0]["sops_per_image"] == 0  # the encoding layer is not counted, as in the original
    # original SOPs = conventional (fan-out) SOPs * 2 * 2^k*B for every ternary layer
    for layer in layers[1:-1]:
        assert layer["sops_per_image"] == pytest.approx(layer["conventional_sops_per_image"] * 2 * 4)
    assert sum(spikes) / 20 == pytest.approx(stats["spikes_per_image"])


def test_one_step_snn_agrees_with_ann(tmp_path, cifar10_dir, npz_files, capsys):
    code, _, errors = in_process(capsys, "--npz", npz_files / "model_cifar_10.npz", "--data_dir", cifar10_dir,
                                 "--figs_dir", tmp_path)
    assert code == 0, errors
    stats = json.loads((tmp_path / "k1B2" / "stats.json").read_text())
    assert stats["differing_images"] == 0 and stats["snn_accuracy"] == stats["ann_accuracy"]
    assert len(lines(tmp_path / "k1B2" / "accuracy.txt")) == 1  # 20 images, batch 50, one time step
    # the original's format cannot confirm k and B: said on stderr and kept with the results
    [warning] = stats["warnings"]
    assert "has no metadata" in warning and "holds a k1B2 network" in warning


def test_noisy_runs_keep_their_own_folder(tmp_path, cifar10_dir, npz_files, capsys):
    """(Seeded noise repeating exactly is tested on the simulator, test_spiking.py.)"""
    common = ["--npz", npz_files / "k1B2.npz", "--data_dir", cifar10_dir, "--figs_dir", tmp_path, "--batch_size", "10"]
    assert in_process(capsys, *common)[0] == 0
    clean = lines(tmp_path / "k1B2" / "spike_num.txt")
    assert in_process(capsys, *common, "--noise_ratio", "0.1", "--seed", "4")[0] == 0
    noisy = lines(tmp_path / "k1B2_noise0.1" / "spike_num.txt")
    assert len(noisy) == len(clean) and all(n <= c for n, c in zip(noisy, clean)) and noisy != clean
    assert lines(tmp_path / "k1B2" / "spike_num.txt") == clean  # the clean logs were not overwritten


@pytest.mark.parametrize(
    "npz,args,message",
    [
        ("k1B2.npz", ["--k", "0", "--B", "2"], "holds a k1B2 network but the flags ask for k0B2"),
        ("fp32.npz", [], "holds a fp32 network"),
        ("c100.npz", [], "trained on cifar100, not cifar10"),
        ("absent.npz", [], "not found"),
        ("k1B2.npz", ["--noise_ratio", "1.5"], "--noise_ratio must be in [0, 1)"),
        ("k1B2.npz", ["--k", "1", "--B", "0.3"], "impossible --k 1 --B 0.3"),
        ("k1B2.npz", ["--noise_ratio", "0.1", "--seed", str(2**64)], "--seed must be a whole number from 0 to"),
    ],
)
def test_refused_input_is_one_error_line(tmp_path, cifar10_dir, npz_files, capsys, npz, args, message):
    code, _, errors = in_process(capsys, "--npz", npz_files / npz, "--data_dir", cifar10_dir, "--figs_dir", tmp_path,
                                 *args)
    assert code == 2 and len(errors) == 1 and message in errors[0], errors
    assert not (tmp_path / "k1B2").exists()


def test_default_npz_is_the_training_scripts_file(tmp_path, cifar100_dir):
    result = run("CIFAR100/Spiking_VGG_CIFAR100.py", "--k", "0", "--B", "4", "--data_dir", cifar100_dir,
                 "--figs_dir", tmp_path)
    assert result.returncode == 2 and "CIFAR100/model_cifar_100_k0B4.npz not found" in result.stderr


def test_a_figs_dir_that_cannot_take_the_logs_is_refused_before_the_evaluation(tmp_path, cifar10_dir, npz_files,
                                                                                  capsys, monkeypatch):
    import quant_snn.spiking_eval

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    monkeypatch.setattr(quant_snn.spiking_eval, "compile_for_inference", None)  # the evaluation would start here
    code, _, errors = in_process(capsys, "--npz", npz_files / "k1B2.npz", "--data_dir", cifar10_dir,
                                 "--figs_dir", blocker / "figs")
    assert code == 2 and len(errors) == 1 and f"log folder {blocker / 'figs' / 'k1B2'} cannot be written" in \
        errors[0], errors
    (tmp_path / "figs" / "k1B2" / "stats.json").mkdir(parents=True)  # a folder where a result file goes
    code, _, errors = in_process(capsys, "--npz", npz_files / "k1B2.npz", "--data_dir", cifar10_dir,
                                 "--figs_dir", tmp_path / "figs")
    assert code == 2 and len(errors) == 1 and "stats.json is in the way of a result file" in errors[0], errors


def test_the_recorded_hash_is_that_of_the_weights_used_even_if_the_file_changes_meanwhile(
        tmp_path, cifar10_dir, npz_files, capsys, monkeypatch):
    """Weights replaced while the run evaluates (same name, same epochs): the logs keep the hash of the weights they
    came from, so ``reproduce`` sees that the file now holds other weights and redoes the run."""
    import hashlib
    import shutil

    import quant_snn.spiking_eval

    npz = tmp_path / "k1B2.npz"
    shutil.copy(npz_files / "k1B2.npz", npz)
    used = hashlib.sha256(npz.read_bytes()).hexdigest()
    load_dataset = quant_snn.spiking_eval.load_dataset

    def replace_then_load(*args):
        shutil.copy(npz_files / "model_cifar_10.npz", npz)  # other bytes under the same name
        return load_dataset(*args)

    monkeypatch.setattr(quant_snn.spiking_eval, "load_dataset", replace_then_load)
    assert in_process(capsys, "--npz", npz, "--data_dir", cifar10_dir, "--figs_dir", tmp_path, "--limit", "10")[0] == 0
    recorded = json.loads((tmp_path / "k1B2" / "stats.json").read_text())["config"]["npz_sha256"]
    assert recorded == used != hashlib.sha256(npz.read_bytes()).hexdigest()
