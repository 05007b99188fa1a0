"""The spiking-log format round-trips: what spiking_eval writes is what figures and reproduce read."""

import dataclasses
import json
import subprocess

import pytest
from conftest import REPO

from quant_snn.errors import UserError
from quant_snn.spiking_logs import (
    STATS_VERSION,
    LayerStats,
    RunRecord,
    SpikingStats,
    log_dir_name,
    parse_log_dir_name,
    read_logs,
    read_stats,
    write_logs,
)

# a CIFAR-100 run of 2026-11-28 (its weights were not kept), kept as the format before config.network, config.xla
# and warnings
VERSION_2 = REPO / "tests" / "fixtures" / "stats_version2" / "stats.json"
VERSION_3 = REPO / "LeNet" / "figs" / "k1B2" / "stats.json"


def stats_record(config: dict | None = None, layers: list[LayerStats] | None = None, **changes) -> SpikingStats:
    """A complete, valid record (for tests that write stats.json); ``config`` and ``changes`` replace fields."""
    record = RunRecord(stats_version=STATS_VERSION, dataset="cifar10", network="vgg", k=1, B=2.0,
                       thresholds_per_neuron=4, npz="model.npz", npz_epochs=1, npz_sha256="0" * 64, batch_size=50,
                       time_steps=1, noise_ratio=0.0, noise_layers="first", seed=0, images=10, test_sha256="1" * 64,
                       backend="tensorflow",
                       keras="3.0.0", xla=True)
    layers = layers or [
        LayerStats(name="conv00", shape=[2, 2, 1], neurons=4, spikes_per_image=1.0, firing_rate=0.0625,
                   sops_per_image=0.0, conventional_sops_per_image=0.0, ann_macs_per_image=108),
        LayerStats(name="dense", conventional_sops_per_image=10.0, ann_macs_per_image=40),
    ]
    return SpikingStats(**{
        "config": dataclasses.replace(record, **(config or {})), "warnings": [], "snn_accuracy": 0.5,
        "ann_accuracy": 0.5, "differing_images": 0, "float32_ann_accuracy": 0.4, "float32_differing_images": 1,
        "spikes_per_image": 1.0, "sops_per_image": 1.0, "conventional_sops_per_image": 10.0,
        "ann_macs_per_image": 148, "spiking_neurons": 4, "images_per_second": 100.0, "layers": layers, **changes})


def test_written_logs_read_back(tmp_path):
    folder = tmp_path / log_dir_name("k1B2", 0.1)
    assert folder.name == "k1B2_noise0.1" and log_dir_name("k1B2", 0.0) == "k1B2"
    stats = stats_record(config={"images": 100, "time_steps": 2}, ann_accuracy=0.25)
    write_logs(folder, {"accuracy": [10, 40, 20, 45], "spike_num": [7, 1, 9, 2], "sop_num": [70, 10, 90, 20]}, stats)
    assert (folder / "accuracy.txt").read_text() == "10\n40\n20\n45\n"
    assert read_stats(folder) == stats
    run = read_logs(folder)
    assert (run.images, run.time_steps, run.accuracy) == (100, 2, (40 + 45) / 100)  # last time step of each batch
    assert (run.spikes_per_image, run.sops_per_image, run.ann_accuracy) == (0.19, 1.9, 0.25)
    assert run.stats == stats
    assert read_stats(tmp_path / "nothing") is None


def test_the_file_layout(tmp_path):
    """Version first in config, indent 2, a trailing newline; the dense layer has only its three entries."""
    stats = stats_record(warnings=["a warning"])
    write_logs(tmp_path, {"accuracy": [5], "spike_num": [1], "sop_num": [1]}, stats)
    text = (tmp_path / "stats.json").read_text()
    plain = json.loads(text)
    assert text == json.dumps(plain, indent=2) + "\n"
    assert list(plain) == [f.name for f in dataclasses.fields(SpikingStats)]
    assert list(plain["config"]) == [f.name for f in dataclasses.fields(RunRecord)]
    assert plain["config"]["stats_version"] == STATS_VERSION and plain["warnings"] == ["a warning"]
    assert list(plain["layers"][0]) == [f.name for f in dataclasses.fields(LayerStats)]
    assert list(plain["layers"][1]) == ["name", "conventional_sops_per_image", "ann_macs_per_image"]


def test_a_record_round_trips():
    stats = stats_record(warnings=["w"], config={"npz_epochs": None, "xla": False, "B": 2})
    again = SpikingStats.from_json(stats.to_json())
    assert again == stats and again.to_json() == stats.to_json()
    assert again.config.npz_epochs is None and again.layers[1].firing_rate is None
    assert SpikingStats.from_json(stats_record(snn_accuracy=0.25).to_json()) != stats


def test_a_version_3_file_loads_and_is_rewritten_unchanged():
    text = VERSION_3.read_text()
    plain = json.loads(text)
    stats = SpikingStats.from_json(text)
    assert stats.config.stats_version == plain["config"]["stats_version"] == STATS_VERSION
    assert (stats.snn_accuracy, stats.config.network, stats.config.xla) == (
        plain["snn_accuracy"], plain["config"]["network"], plain["config"]["xla"])
    assert [layer.name for layer in stats.layers] == [layer["name"] for layer in plain["layers"]]
    assert stats.to_json() == text


def test_a_version_2_file_loads_with_the_later_entries_defaulted():
    text = VERSION_2.read_text()
    plain = json.loads(text)
    assert plain["config"]["stats_version"] == 2 and not {"network", "xla"} & set(plain["config"])
    stats = SpikingStats.from_json(text)
    assert (stats.config.network, stats.config.xla, stats.warnings) == ("vgg", None, [])
    assert (stats.config.stats_version, stats.differing_images, stats.layers[-1].ann_macs_per_image) == (
        2, plain["differing_images"], plain["layers"][-1]["ann_macs_per_image"])
    rewritten = json.loads(stats.to_json())
    assert rewritten == {**plain, "warnings": [], "config": {**plain["config"], "network": "vgg", "xla": None}}


def tracked_stats_files():
    try:
        names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [REPO / name for name in names if name.endswith("stats.json")]


def test_every_committed_record_loads():
    files = tracked_stats_files()
    assert VERSION_2 in files and VERSION_3 in files
    for path in files:
        stats = read_stats(path.parent)
        assert stats is not None, path
        assert stats.config.stats_version == json.loads(path.read_text())["config"]["stats_version"], path
        if stats.config.stats_version == STATS_VERSION:
            assert stats.to_json() == path.read_text(), path


def changed(change) -> str:
    plain = json.loads(stats_record().to_json())
    change(plain)
    return json.dumps(plain)


MALFORMED = {
    "garbled": ("{garbled", "not JSON"),
    "list": ("[]", "not an object"),
    "empty": ("{}", "no entry 'config'"),
    "deep": ("[" * 100_000 + "]" * 100_000, "not JSON"),
    "no_number": (changed(lambda s: s.pop("spiking_neurons")), "spiking_neurons"),
    "bool_number": (changed(lambda s: s.update(differing_images=True)), "differing_images"),
    "string_number": (changed(lambda s: s.update(snn_accuracy="0.5")), "snn_accuracy"),
    "float_count": (changed(lambda s: s["config"].update(images=10.5)), "config.images"),
    "zero_images": (changed(lambda s: s["config"].update(images=0)), "config.images"),
    "zero_steps": (changed(lambda s: s["config"].update(time_steps=0)), "config.time_steps"),
    "no_version": (changed(lambda s: s["config"].pop("stats_version")), "config.stats_version"),
    "no_config": (changed(lambda s: s.update(config=[1])), "config"),
    "layers_not_a_list": (changed(lambda s: s.update(layers={"name": "conv00"})), "layers"),
    "layer_without_name": (changed(lambda s: s["layers"][0].pop("name")), "layers[0].name"),
    "layer_not_an_object": (changed(lambda s: s["layers"].append("dense")), "layers[2]"),
    "bad_shape": (changed(lambda s: s["layers"][0].update(shape=[2, "2", 1])), "layers[0].shape[1]"),
    "bad_warning": (changed(lambda s: s.update(warnings=[None])), "warnings[0]"),
    "unknown_entry": (changed(lambda s: s.update(extra=1)), "extra"),
}


@pytest.mark.parametrize("text, reason", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_record_is_refused_and_reads_as_absent_so_reproduce_redoes_the_run(tmp_path, text, reason):
    with pytest.raises(ValueError) as refused:
        SpikingStats.from_json(text)
    assert reason in str(refused.value) and len(str(refused.value)) < 200
    (tmp_path / "stats.json").write_text(text)
    assert read_stats(tmp_path) is None


@pytest.mark.parametrize("tag, noise", [("k1B2", 0.0), ("k1B2", 0.1), ("k0B1", 0.25), ("k2B0.5", 0.0)])
def test_a_log_folder_name_reads_back(tag, noise):
    assert parse_log_dir_name(log_dir_name(tag, noise)) == (tag, noise)


@pytest.mark.parametrize("name", ["fp32", "k1B2_noise", "k1B2_noisex", "k1B2_noise1.5", "kxB2", "k1B2_noise0.1_old"])
def test_other_folder_names_are_not_log_folders(name):
    assert parse_log_dir_name(name) is None


def test_a_log_folder_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    """A full disk while the new record is written leaves the old run as it was (it once left three new logs
    beside the old stats.json, and the figures plotted the mix)."""
    import quant_snn.atomic as atomic

    folder = tmp_path / "k1B2"
    write_logs(folder, {"accuracy": [5], "spike_num": [1], "sop_num": [1]}, stats_record())
    (folder / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    original = atomic.atomic_write

    def full_disk_at_the_record(path, write):
        if path.name == "stats.json":
            raise atomic.UserError(f"no space left to write {path}")
        original(path, write)

    monkeypatch.setattr(atomic, "atomic_write", full_disk_at_the_record)
    with pytest.raises(UserError, match="no space left"):
        write_logs(folder, {"accuracy": [9], "spike_num": [9], "sop_num": [9]}, stats_record(snn_accuracy=0.9))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k1B2"]  # no temporary folder left
    monkeypatch.undo()
    write_logs(folder, {"accuracy": [9], "spike_num": [9], "sop_num": [9]}, stats_record(snn_accuracy=0.9))
    assert read_logs(folder).accuracy == 9 / 10 and (folder / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k1B2"]
