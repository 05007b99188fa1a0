"""The spiking-log format round-trips: what spiking_eval writes is what figures and reproduce read."""

import json

import pytest

from quant_snn.spiking_logs import STATS_VERSION, log_dir_name, parse_log_dir_name, read_logs, read_stats, write_logs

GOOD = {"config": {"images": 10, "time_steps": 1, "thresholds_per_neuron": 4, "npz_epochs": 1, "seed": 0},
        "snn_accuracy": 0.5, "ann_accuracy": 0.5, "differing_images": 0, "spikes_per_image": 1.0,
        "sops_per_image": 1.0, "conventional_sops_per_image": 1.0, "ann_macs_per_image": 1,
        "spiking_neurons": 1, "layers": [{"name": "conv00"}]}


def test_written_logs_read_back(tmp_path):
    folder = tmp_path / log_dir_name("k1B2", 0.1)
    assert folder.name == "k1B2_noise0.1" and log_dir_name("k1B2", 0.0) == "k1B2"
    stats = {**GOOD, "config": {**GOOD["config"], "images": 100, "time_steps": 2}, "ann_accuracy": 0.5}
    write_logs(folder, {"accuracy": [10, 40, 20, 45], "spike_num": [7, 1, 9, 2], "sop_num": [70, 10, 90, 20]}, stats)
    assert (folder / "accuracy.txt").read_text() == "10\n40\n20\n45\n"
    assert read_stats(folder)["config"] == {"stats_version": STATS_VERSION, **stats["config"]}
    run = read_logs(folder)
    assert (run.images, run.time_steps, run.accuracy) == (100, 2, (40 + 45) / 100)  # last time step of each batch
    assert (run.spikes_per_image, run.sops_per_image, run.ann_accuracy) == (0.19, 1.9, 0.5)
    assert read_stats(tmp_path / "nothing") is None


def test_a_damaged_stats_record_reads_as_absent_so_reproduce_redoes_the_run(tmp_path):
    good = GOOD
    (tmp_path / "stats.json").write_text(json.dumps(good))
    assert read_stats(tmp_path) == good
    for damaged in ("{garbled", "[]", "{}", "[" * 100_000 + "]" * 100_000,
                    json.dumps({**good, "config": {**good["config"], "images": 0}})):
        (tmp_path / "stats.json").write_text(damaged)
        assert read_stats(tmp_path) is None, damaged


@pytest.mark.parametrize("tag, noise", [("k1B2", 0.0), ("k1B2", 0.1), ("k0B1", 0.25), ("k2B0.5", 0.0)])
def test_a_log_folder_name_reads_back(tag, noise):
    assert parse_log_dir_name(log_dir_name(tag, noise)) == (tag, noise)


@pytest.mark.parametrize("name", ["fp32", "k1B2_noise", "k1B2_noisex", "k1B2_noise1.5", "kxB2", "k1B2_noise0.1_old"])
def test_other_folder_names_are_not_log_folders(name):
    assert parse_log_dir_name(name) is None
