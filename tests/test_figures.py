"""Every figure script on synthetic logs: valid images, the extra configurations, and missing-log messages.

The scripts run in this process (``runpy``, as ``python script.py`` would run them), each CIFAR-10 figure once and
every CIFAR-100 script once on the same logs."""

import json
import runpy
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import REPO, script_env
from PIL import Image
from test_spiking_logs import stats_record

from quant_snn.figures import collect
from quant_snn.spiking_logs import LayerStats, read_logs

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
        layers = [LayerStats(name=n, shape=[24, 24, 64], neurons=36864, spikes_per_image=1e4,
                             firing_rate=float(rng.uniform(0.05, 0.3)), sops_per_image=1e7,
                             conventional_sops_per_image=1e6, ann_macs_per_image=21233664) for n in LAYERS]
        record = stats_record(
            config={"images": 50 * batches, "time_steps": steps, "thresholds_per_neuron": levels},
            snn_accuracy=0.8, spikes_per_image=1e5, sops_per_image=1e8, ann_accuracy=0.8, spiking_neurons=187136,
            conventional_sops_per_image=8e7, ann_macs_per_image=127_000_000,
            layers=layers + [LayerStats(name="dense", conventional_sops_per_image=1e4, ann_macs_per_image=5120)])
        (folder / "stats.json").write_text(record.to_json())


@pytest.fixture
def figs(tmp_path):
    for i, (tag, levels) in enumerate([("k0B1", 1), ("k0B2", 2), ("k1B2", 4), ("k1B4", 8)]):
        write_logs(tmp_path / tag, tag, levels, seed=i)
    for p, acc in [(0.1, 0.7), (0.2, 0.6)]:
        write_logs(tmp_path / f"k1B2_noise{p:g}", "k1B2", 4, stats=False, noise_accuracy=acc)
    return tmp_path


@dataclass
class Result:
    returncode: int
    stderr: str


@pytest.fixture
def run_figure(monkeypatch, capsys):
    def run(name, *args, dataset="CIFAR10"):
        script = REPO / dataset / "figs" / f"{name}.py"
        monkeypatch.setattr(sys, "argv", [str(script), *map(str, args)])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_status:
            runpy.run_path(str(script), run_name="__main__")
        return Result(exit_status.value.code, capsys.readouterr().err)
    return run


@pytest.mark.parametrize("name,dataset", [(name, "CIFAR10") for name in ("accuracy", "sparsity", "sops",
                                                                        "firing_rates", "noise")]
                         + [(name, "CIFAR100") for name in ("accuracy", "noise")])
def test_figure_scripts_save_png_and_svg(figs, run_figure, name, dataset):
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


def test_cifar100_figure_scripts_are_the_cifar10_ones_for_cifar100():
    for script in sorted((REPO / "CIFAR100" / "figs").glob("*.py")):
        text = script.read_text()
        assert '"cifar100", script_path=__file__)' in text, script
        twin = (REPO / "CIFAR10" / "figs" / script.name).read_text()
        assert twin.replace("cifar10", "cifar100").replace("CIFAR-10", "CIFAR-100") == text, script


def test_a_figure_script_in_its_own_process(figs):
    result = subprocess.run([sys.executable, str(REPO / "CIFAR10" / "figs" / "sops.py"), "--figs_dir", str(figs)],
                            env=script_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert (figs / "sops.png").is_file()


def test_original_logs_without_stats_are_read_as_batches_of_50(tmp_path, run_figure):
    for tag in ("k0B1", "k0B2", "k1B2"):
        write_logs(tmp_path / tag, tag, 1, batches=200, stats=False)
    assert read_logs(tmp_path / "k1B2").images == 10_000
    result = run_figure("accuracy", "--figs_dir", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "accuracy.png").is_file()


def test_missing_logs_name_themselves_and_the_command(tmp_path, run_figure):
    result = run_figure("sparsity", "--figs_dir", tmp_path)  # no logs at all: the original's three are named
    assert result.returncode == 2
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "k0B1" in error[0] and "k0B2" in error[0]
    assert "python CIFAR10/Spiking_VGG_CIFAR10.py --k 0 --B 1" in error[0]
    assert not (tmp_path / "sparsity.png").exists()
    write_logs(tmp_path / "k1B2_fast60", "k1B2_fast60", 4)
    noise = run_figure("noise", "--figs_dir", tmp_path)
    assert noise.returncode == 2 and "--label fast60 --noise_ratio 0.1" in noise.stderr
    result = run_figure("sparsity", "--figs_dir", tmp_path, "--configs", "k1B2_fast60,k1B2_original")
    assert result.returncode == 2 and "--k 1 --B 2 --label original" in result.stderr


def test_by_default_every_log_folder_found_is_drawn_in_order_two_of_one_configuration_apart(tmp_path, run_figure):
    for name in ("k1B2_original", "k1B2_fast60", "k0B1"):
        write_logs(tmp_path / name, name, 4)
    (tmp_path / "k1B2_fast60_noise0.1").mkdir()  # a noisy run is not a bar of its own
    result = run_figure("accuracy", "--figs_dir", tmp_path)
    assert result.returncode == 0, result.stderr
    svg = (tmp_path / "accuracy.svg").read_text()
    labels = [svg.index(label) for label in ("(k0B1)", "(k1B2,", "fast60)", "original)")]
    assert labels == sorted(labels) and "noise" not in svg


def set_stats(folder, change):
    stats = json.loads((folder / "stats.json").read_text())
    change(stats)
    (folder / "stats.json").write_text(json.dumps(stats))


@pytest.mark.parametrize("damage", [
    lambda f: (f / "spike_num.txt").write_text("12\nnot a number\n"),
    lambda f: [(f / name).write_text("") for name in ("accuracy.txt", "spike_num.txt", "sop_num.txt")],
    lambda f: (f / "stats.json").write_text("{}"),
    lambda f: (f / "stats.json").write_text("[]"),
    lambda f: (f / "stats.json").write_text("{garbled"),
    lambda f: set_stats(f, lambda s: s["config"].update(images=0)),
    lambda f: set_stats(f, lambda s: s["config"].update(time_steps=0)),
    lambda f: set_stats(f, lambda s: s.pop("spiking_neurons")),
    lambda f: (f / "sop_num.txt").write_text("1\n"),
    lambda f: (f / "spike_num.txt").write_text("inf\n" * len((f / "sop_num.txt").read_text().split())),
    lambda f: (f / "stats.json").write_text("[" * 100_000 + "]" * 100_000),
], ids=["not_a_number", "empty", "empty_dict", "list", "garbled", "zero_images", "zero_steps", "no_key", "short",
        "deep", "inf"])
def test_damaged_logs_are_one_error_line_naming_the_folder(figs, run_figure, damage):
    damage(figs / "k0B2")
    for name in ("sops", "accuracy", "firing_rates"):
        result = run_figure(name, "--figs_dir", figs)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
            line for line in result.stderr.splitlines() if line]
        assert f"cannot read the logs in {figs / 'k0B2'}" in result.stderr


def test_a_folder_where_the_figure_goes_is_one_error_line(figs, run_figure):
    (figs / "sops.png").mkdir()
    result = run_figure("sops", "--figs_dir", figs)
    assert result.returncode == 2 and [line for line in result.stderr.splitlines() if line] == [
        f"error: cannot write {figs / 'sops.png'} (Is a directory)"], result.stderr


def test_a_stray_folder_of_an_impossible_configuration_is_passed_over(figs, run_figure):
    (figs / "k17B2").mkdir()
    result = run_figure("sops", "--figs_dir", figs)
    assert result.returncode == 0 and f"passing over {figs / 'k17B2'}" in result.stderr


def test_a_folder_that_cannot_take_the_figure_is_one_error_line_and_keeps_the_old_one(figs, run_figure, monkeypatch):
    import tempfile

    assert run_figure("sops", "--figs_dir", figs).returncode == 0
    before = (figs / "sops.png").read_bytes()

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)  # root ignores file modes: refuse the write itself
    result = run_figure("sops", "--figs_dir", figs)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line] == [
        f"error: cannot write {figs / 'sops.png'} (Permission denied)"]
    assert (figs / "sops.png").read_bytes() == before


def test_redrawing_the_same_logs_gives_the_same_bytes(figs):
    from quant_snn.figures import sops_figure

    first = [path.read_bytes() for path in sops_figure(figs)]
    assert [path.read_bytes() for path in sops_figure(figs)] == first  # no date, no random ids: no churn in git
