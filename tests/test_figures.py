"""Every figure script on synthetic logs: valid images, the extra configurations, and missing-log messages."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, script_env
from quant_snn.figures import collect
from quant_snn.spiking_logs import read_logs

LAYERS = ["conv00", "conv0", "conv1", "conv2"]


def write_logs(folder, tag, levels, batches=4, steps=1, stats=True, seed=0, noise_accuracy=None):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    lines = batches * steps
    correct = rng.integers(30, 50, lines) if noise_accuracy is None else np.full(lines, int(50 * noise_accuracy))
    (folder / "accuracy.txt").write_text("".join(f"{v}\n" for v in correct))
    (folder / "spike_num.txt").write_text("".join(f"{v}\n" for v in rng.integers(10**6, 10**7, lines)))
    (folder / "sop_num.txt").write_text("".join(f"{v}\n" for v in rng.integers(10**9, 10**10, lines)))
    if stats:
        layers = [{"name": n, "firing_rate": float(rng.uniform(0.05, 0.3))} for n in LAYERS]
        stats = {"config": {"images": 50 * batches, "time_steps": steps, "thresholds_per_neuron": levels},
                 "ann_accuracy": 0.8, "spiking_neurons": 187136, "conventional_sops_per_image": 8e7,
                 "ann_macs_per_image": 1.27e8, "layers": layers + [{"name": "dense"}]}
        (folder / "stats.json").write_text(json.dumps(stats))


@pytest.fixture
def figs(tmp_path):
    for i, (tag, levels) in enumerate([("k0B1", 1), ("k0B2", 2), ("k1B2", 4), ("k1B4", 8)]):
        write_logs(tmp_path / tag, tag, levels, seed=i)
    for p, acc in [(0.1, 0.7), (0.2, 0.6)]:
        write_logs(tmp_path / f"k1B2_noise{p:g}", "k1B2", 4, stats=False, noise_accuracy=acc)
    return tmp_path


def run_figure(name, *args, dataset="CIFAR10"):
    return subprocess.run([sys.executable, str(REPO / dataset / "figs" / f"{name}.py"), *map(str, args)],
                          env=script_env(), capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", ["accuracy", "sparsity", "sops", "firing_rates", "noise"])
@pytest.mark.parametrize("dataset", ["CIFAR10", "CIFAR100"])
def test_figure_scripts_save_png_and_svg(figs, name, dataset):
    result = run_figure(name, "--figs_dir", figs, dataset=dataset)
    assert result.returncode == 0, result.stderr
    with Image.open(figs / f"{name}.png") as image:
        image.verify()
    with Image.open(figs / f"{name}.png") as image:
        assert image.size[0] >= 600 and image.size[1] >= 400
        assert np.unique(np.asarray(image.convert("L"))).size > 10  # something was drawn
    assert "<svg" in (figs / f"{name}.svg").read_text()[:2000]


def test_default_set_plus_any_other_configuration_found(figs):
    assert [run.tag for run in collect(figs, None, "x")] == ["k0B1", "k0B2", "k1B2", "k1B4"]
    assert [run.tag for run in collect(figs, ["k1B4", "k0B1"], "x")] == ["k1B4", "k0B1"]


def test_averages_over_the_test_images(figs):
    run = read_logs(figs / "k1B2")
    counts = [int(v) for v in (figs / "k1B2" / "spike_num.txt").read_text().split()]
    assert run.images == 200 and run.spikes_per_image == pytest.approx(sum(counts) / 200)


def test_original_logs_without_stats_are_read_as_batches_of_50(tmp_path):
    for tag in ("k0B1", "k0B2", "k1B2"):
        write_logs(tmp_path / tag, tag, 1, batches=200, stats=False)
    assert read_logs(tmp_path / "k1B2").images == 10_000
    result = run_figure("accuracy", "--figs_dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "accuracy.png").is_file()


def test_missing_logs_name_themselves_and_the_command(tmp_path):
    write_logs(tmp_path / "k1B2", "k1B2", 4)
    result = run_figure("sparsity", "--figs_dir", tmp_path)
    assert result.returncode == 2
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "k0B1" in error[0] and "k0B2" in error[0]
    assert "python CIFAR10/Spiking_VGG_CIFAR10.py --k 0 --B 1" in error[0]
    assert not (tmp_path / "sparsity.png").exists()
    noise = run_figure("noise", "--figs_dir", tmp_path)
    assert noise.returncode == 2 and "--noise_ratio 0.1" in noise.stderr


def test_corrupt_log_is_one_error_line(figs):
    (figs / "k0B2" / "spike_num.txt").write_text("12\nnot a number\n")
    result = run_figure("sops", "--figs_dir", figs)
    assert result.returncode == 2 and "cannot read the logs" in result.stderr and "Traceback" not in result.stderr
