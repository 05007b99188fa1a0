"""The reproduce command end to end on tiny synthetic data, interrupted in the middle and resumed."""

import csv

import numpy as np
import pytest
from synthetic import SMALL
from test_spiking_cli import random_model

import quant_snn.spiking_eval
import quant_snn.train
from quant_snn.config import QuantConfig
from quant_snn.reproduce import REPO, ReproduceConfig, main, run_all
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
    assert rows[0].split(" | ")[1].startswith("adam constant (original recipe")  # the npz's own record
    assert rows[0].split(" | ")[2] == "2" and "n/a" in rows[0]
    assert " of 20 |" in rows[1] and "89.12%" in rows[1]  # our figures beside the paper's, in its own column

    for name in ("accuracy", "sparsity", "sops", "firing_rates", "noise"):
        assert (out / "figs" / f"{name}.png").is_file() and f"figs/{name}.png" in table
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
    assert "unknown configuration 'k9'" in capsys.readouterr().err
    assert main(["--noise", "0,x", "--output_dir", str(tmp_path)]) == 2
    for flags, message in ((["--configs", ","], "--configs names no configuration (e.g. --configs fp32,k1B2)"),
                           (["--epochs", "0"], "--epochs must be at least 1, got 0"),
                           (["--limit", "0"], "--limit must be at least 1, got 0"),
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
    assert "| k1B2 | adam constant (original recipe: lr 1e-3, then 1e-4 from half-way) | 1 |" in (
        tmp_path / "RESULTS_CIFAR10.md").read_text()
