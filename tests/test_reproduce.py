"""The reproduce command end to end on tiny synthetic data, interrupted in the middle and resumed."""

import csv
import dataclasses

import numpy as np
import pytest
from synthetic import SMALL, write_dataset
from test_spiking_cli import random_model

import quant_snn.spiking_eval
import quant_snn.train
from quant_snn.cli.commands import reproduce_main as main
from quant_snn.datasets import CIFAR10
from quant_snn.epoch_end import write_history_csv
from quant_snn.model import build_network
from quant_snn.paths import REPO
from quant_snn.publish import record_sum
from quant_snn.quant_config import FP32, QuantConfig
from quant_snn.reproduce import ReproduceConfig, run_all
from quant_snn.spiking_logs import read_stats
from quant_snn.weights import save_npz


def config(data_dir, out):
    return ReproduceConfig(dataset="cifar10", configs=["fp32", "k0B1"], noise=[0.0, 0.1], epochs=2,
                           data_dir=data_dir, output_dir=out, batch_size=20, snn_batch_size=10, verbose=0,
                           arch=SMALL)


def interrupt_on_call(monkeypatch, module, name, call):
    original, calls = getattr(module, name), []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


def test_resumes_after_interruptions_and_redoes_nothing(tmp_path, cifar10_dir, monkeypatch):
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        interrupt_on_call(patch, quant_snn.train, "train", 3)  # fp32 done (2 phases), stop before k0B1 starts
        with pytest.raises(KeyboardInterrupt):
            run_all(config(cifar10_dir, out))
    with monkeypatch.context() as patch:
        interrupt_on_call(patch, quant_snn.spiking_eval, "run_spiking", 2)  # stop in the middle of the SNN runs
        with pytest.raises(KeyboardInterrupt):
            run_all(config(cifar10_dir, out))
    resumed = run_all(config(cifar10_dir, out))
    assert resumed == ["spiking k0B1 noise 0.1"]
    table = (out / "RESULTS_CIFAR10.md").read_text()
    assert run_all(config(cifar10_dir, out)) == []  # a finished run does nothing more
    assert (out / "RESULTS_CIFAR10.md").read_text() == table
    with open(out / "history_model_cifar_10_fp32.csv") as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [1, 2]  # fp32 was trained once
    with open(out / "history_model_cifar_10_k0B1.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2] and [float(r["learning_rate"]) for r in rows] == [1e-3, 1e-4]
    rows = [line for line in table.splitlines() if line.startswith("| fp32") or line.startswith("| k0B1")]
    # the npz's own record, with the phases its history records
    assert rows[0].split(" | ")[2] == "adam constant (original recipe: lr 0.001 for epochs 1, 0.0001 for 2)"
    assert rows[0].split(" | ")[3] == "2" and "n/a" in rows[0]
    assert " of 20 |" in rows[1] and "89.12%" in rows[1]  # our figures beside the paper's, in its own column

    for name in ("accuracy", "sparsity", "sops", "firing_rates", "noise"):
        assert (out / "figs" / f"{name}.png").is_file() and f"figs/{name}.png" in table
    # the training figure's copy of each history, named <config>_<recipe>, follows the run's own history
    history = (out / "history_model_cifar_10_k0B1.csv").read_text()
    assert (out / "histories" / "k0B1_original.csv").read_text() == history
    assert (out / "figs" / "training.png").is_file()
    replace_weights_keeping_epochs(out / "model_cifar_10_k0B1.npz")  # the logs of other weights are not reused
    assert run_all(config(cifar10_dir, out)) == ["spiking k0B1 noise 0", "spiking k0B1 noise 0.1"]


def replace_weights_keeping_epochs(npz):
    """Other weights under the same name and epoch count (e.g. a run brought back from another machine)."""
    with np.load(npz, allow_pickle=True) as f:
        arrays = dict(f)
    arrays["params"][-1] = arrays["params"][-1] * 2
    np.savez(npz, **arrays)


def test_command_line_and_bad_input(tmp_path, cifar10_dir, capsys):
    assert main(["--configs", "fp32,k9", "--output_dir", str(tmp_path)]) == 2
    assert "unknown network 'k9'" in capsys.readouterr().err
    assert main(["--noise", "0,x", "--output_dir", str(tmp_path)]) == 2
    for flags, message in ((["--configs", ","], "--configs names no configuration (e.g. --configs fp32,k1B2)"),
                           (["--epochs", "0"], "--epochs must be at least 1, got 0"),
                           (["--limit", "0"], "--limit must be at least 1, got 0"),
                           (["--batch_size", "0"], "--batch_size must be at least 1, got 0"),  # not "the default"
                           (["--snn_batch_size", "-1"], "--snn_batch_size must be at least 1, got -1"),
                           (["--steps_per_execution", "0"], "--steps_per_execution must be at least 1, got 0"),
                           (["--loop", "device"], "--loop device needs the JAX backend (this is tensorflow): it calls "
                                                  "JAX's compiler itself (set KERAS_BACKEND=jax, or use --loop fit)"),
                           (["--noise", "0.1"], "--noise must include 0, the noiseless run that the table and the "
                                                "figures need (e.g. --noise 0,0.1,0.2)")):
        capsys.readouterr()
        assert main([*flags, "--output_dir", str(tmp_path)]) == 2  # before any training
        assert capsys.readouterr().err == f"error: {message}\n"
    assert list(tmp_path.iterdir()) == []
    # the committed results are never the default output
    assert ReproduceConfig(dataset="cifar100").output_dir == REPO / "runs" / "cifar100"
    # weights that came back without a checkpoint (trained elsewhere) are used as they are: no training here
    original = {"optimizer": "adam", "schedule": "constant", "weight_decay": 0.0, "label_smoothing": 0.0}
    save_npz(tmp_path / "model_cifar_10_k1B2.npz", random_model(QuantConfig(1, 2)), dataset="cifar10",
             quant=QuantConfig(1, 2), epochs=1, test_accuracy=0.1, training=original)
    assert main(["--configs", "k1B2", "--epochs", "1", "--noise", "0", "--limit", "10", "--data_dir",
                 str(cifar10_dir), "--output_dir", str(tmp_path), "--batch_size", "20"]) == 0
    out = capsys.readouterr().out
    assert "done: spiking k1B2 noise 0" in out
    assert ("CPUs (the spiking runs' machine) | adam constant (original recipe: lr 1e-3, then 1e-4 from half-way) | "
            "1 |") in (tmp_path / "RESULTS_CIFAR10.md").read_text()


def small_network(quant, seed):
    model = build_network(10, quant, SMALL)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.name.startswith("bn"):  # firing neurons, some negative gammas
            layer.gamma.assign(rng.normal(1, 0.3, layer.gamma.shape) * rng.choice([-1, 1, 1], layer.gamma.shape))
            layer.beta.assign(rng.normal(0.5, 0.3, layer.beta.shape))
    return model


def test_networks_from_a_weights_folder_two_of_one_configuration_side_by_side(tmp_path, cifar10_dir, monkeypatch):
    weights, out = tmp_path / "published", tmp_path / "out"
    weights.mkdir()
    (out / "histories").mkdir(parents=True)
    k1b2 = QuantConfig(1, 2)
    constant = {"optimizer": "adam", "schedule": "constant", "weight_decay": 0.0, "label_smoothing": 0.0}
    cosine = {"optimizer": "adam", "schedule": "cosine", "learning_rate": 0.002, "warmup_epochs": 2.0, "epochs": 60,
              "weight_decay": 0.0, "label_smoothing": 0.1}
    save_npz(weights / "model_cifar_10_k1B2_original.npz", small_network(k1b2, 0), dataset="cifar10", quant=k1b2,
             epochs=3, test_accuracy=None, training=constant)
    save_npz(weights / "model_cifar_10_k1B2_fast60.npz", small_network(k1b2, 1), dataset="cifar10", quant=k1b2,
             epochs=60, test_accuracy=None, training=cosine)
    record_sum(weights, "model_cifar_10_k1B2_original.npz", "0" * 64)  # listed, but not with these bytes
    save_npz(out / "model_cifar_10_fp32_fast60.npz", build_network(10, FP32, SMALL), dataset="cifar10", quant=FP32,
             epochs=60, test_accuracy=0.5, training=cosine)  # not in the weights folder: the output folder's
    write_history_csv(out / "histories" / "k1B2_original.csv", [
        {"epoch": e, "learning_rate": rate, "loss": 1.0, "accuracy": 0.5, "test_loss": 1.0, "test_accuracy": 0.5,
         "seconds": 1.0} for e, rate in ((1, 1e-3), (2, 1e-3), (3, 1e-4))])

    def no_training(*args, **kwargs):
        raise AssertionError("--weights trains nothing")

    monkeypatch.setattr(quant_snn.train, "train", no_training)
    cfg = ReproduceConfig(dataset="cifar10", configs=["fp32_fast60", "k1B2_original", "k1B2_fast60"],
                          noise=[0.0, 0.1], noise_configs=["k1B2_original"], epochs=400, weights=weights,
                          trained_on=["a GPU", "k1B2_fast60=a CPU"], data_dir=cifar10_dir, output_dir=out,
                          snn_batch_size=10, verbose=0, arch=SMALL)
    assert run_all(cfg) == ["spiking k1B2_original noise 0", "spiking k1B2_original noise 0.1",
                            "spiking k1B2_fast60 noise 0"]
    figs = out / "figs"
    assert sorted(p.name for p in figs.iterdir() if p.is_dir()) == ["k1B2_fast60", "k1B2_original",
                                                                   "k1B2_original_noise0.1"]
    stats = {name: read_stats(figs / name) for name in ("k1B2_original", "k1B2_fast60")}
    assert stats["k1B2_original"].config.npz_sha256 != stats["k1B2_fast60"].config.npz_sha256
    assert {s.differing_images for s in stats.values()} == {0}
    lines = (out / "RESULTS_CIFAR10.md").read_text().splitlines()
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in lines
            if line.startswith("| k1B2_") or line.startswith("| fp32_")}
    assert list(rows) == ["fp32_fast60", "k1B2_original", "k1B2_fast60"]
    assert rows["k1B2_original"][1:4] == ["a GPU", "adam constant (original recipe: lr 0.001 for epochs 1-2, "
                                                   "0.0001 for 3)", "3"]  # the phases its history records
    assert rows["k1B2_fast60"][1] == "a CPU" and rows["k1B2_fast60"][3] == "60"
    assert rows["k1B2_original"][10] == f"{100 * read_stats(figs / 'k1B2_original_noise0.1').snn_accuracy:.2f}%"
    assert rows["k1B2_fast60"][10] == ""  # no noisy run asked for
    assert rows["fp32_fast60"][4] == "50.00%"  # the npz's own record
    assert rows["fp32_fast60"][-1].startswith("not published: sha256 `")
    assert rows["k1B2_original"][-1].startswith("not published")  # SHA256SUMS lists other bytes under its name
    record_sum(weights, "model_cifar_10_k1B2_fast60.npz", stats["k1B2_fast60"].config.npz_sha256)
    assert run_all(cfg) == []  # everything current: nothing run again
    rows = [line for line in (out / "RESULTS_CIFAR10.md").read_text().splitlines() if line.startswith("| k1B2_fast60")]
    assert rows[0].endswith("model_cifar_10_k1B2_fast60.npz` |") and "not published" not in rows[0]
    other_copy = tmp_path / "other_copy"  # the same file names, other test images: nothing of the old runs is kept
    write_dataset(CIFAR10, other_copy, per_file=8, test=20, seed=5)
    assert run_all(dataclasses.replace(cfg, data_dir=other_copy)) == [
        "spiking k1B2_original noise 0", "spiking k1B2_original noise 0.1", "spiking k1B2_fast60 noise 0"]


def test_a_missing_network_in_the_weights_folder_is_one_line_before_any_data(tmp_path, capsys):
    argv = ["--configs", "k1B2_original,k0B1", "--weights", str(tmp_path), "--data_dir", str(tmp_path / "no_data"),
            "--output_dir", str(tmp_path / "out"), "--noise", "0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --weights") and "model_cifar_10_k1B2_original.npz" in err and err.count("\n") == 1
    assert main([*argv[:4], "--trained_on", "k1B2_original=", "--output_dir", str(tmp_path / "out")]) == 2
    assert "says nothing about where" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_data_line_says_what_the_data_folder_records_and_guesses_nothing(tmp_path):
    from quant_snn.datasets import PROVENANCE_FILE
    from quant_snn.results_table import data_source

    cfg = ReproduceConfig(dataset="cifar10", configs=["k1B2"], data_dir=tmp_path, output_dir=tmp_path / "out")
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    assert data_source(cfg) == ("a copy in the official layout that records no origin (no PROVENANCE.txt in "
                                "cifar-10-batches-py/)")
    (folder / "readme.html").write_text("")
    assert data_source(cfg) == "the official archive"
    (folder / PROVENANCE_FILE).write_text("converted from bundle X: 10 of 12 images exact\nmore\n")
    assert data_source(cfg) == "a prepared copy: converted from bundle X: 10 of 12 images exact (its PROVENANCE.txt)"


def test_an_error_names_only_flags_the_command_has(tmp_path, cifar10_dir, capsys):
    """A damaged checkpoint met by reproduce once said "start anew with --resume False --overwrite True", flags
    that only the training scripts have."""
    import json
    import re

    from quant_snn.cli.commands import reproduce_parser
    from quant_snn.layout import RunLayout

    checkpoint = RunLayout.of(tmp_path, "cifar10", QuantConfig(1, 2)).checkpoint
    np.savez(checkpoint, state=np.str_(json.dumps({"epoch": 1, "history": "edited"})))
    assert main(["--configs", "k1B2", "--epochs", "2", "--data_dir", str(cifar10_dir), "--output_dir",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: checkpoint {checkpoint}") and err.count("\n") == 1, err
    flags = {option for action in reproduce_parser()._actions for option in action.option_strings}
    assert set(re.findall(r"--[a-z_]+", err)) <= flags, err
