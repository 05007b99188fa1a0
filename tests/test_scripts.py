"""The training scripts end to end on tiny synthetic data, and bad input as one clear error line.

The CIFAR-100 scripts are the CIFAR-10 ones with another dataset name: one subprocess shows their wiring; the
refusals run in this process through the scripts' entry point (``training_main``)."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, script_env

from quant_snn.cli import training_main
from quant_snn.model import build_network
from quant_snn.quant_config import QuantConfig
from quant_snn.weights import save_npz

QUANT10 = str(REPO / "CIFAR10" / "Quant_VGG_CIFAR10.py")


def run(script, *args, cwd=None):
    return subprocess.run([sys.executable, str(REPO / script), *map(str, args)], env=script_env(), cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize(
    "script,data,flags,npz",
    [
        ("CIFAR10/Quant_VGG_CIFAR10.py", "cifar10_dir", ["--k", "0", "--B", "1"], "model_cifar_10_k0B1.npz"),
        ("CIFAR10/FP32_VGG_CIFAR10.py", "cifar10_dir", [], "model_cifar_10_fp32.npz"),
    ],
)
def test_script_trains_then_evaluates(request, tmp_path, capsys, script, data, flags, npz):
    """Training through the script in a subprocess; the evaluation through its entry point in this process."""
    data_dir = request.getfixturevalue(data)
    common = ["--data_dir", data_dir, "--output_dir", tmp_path, "--batch_size", "20", "--verbose", "0", *flags]
    trained = run(script, *common, "--epochs", "1", "--learning_rate", "0.001", "--resume", "False")
    assert trained.returncode == 0, trained.stderr
    assert "epoch 1: train accuracy" in trained.stdout
    with np.load(tmp_path / npz, allow_pickle=True) as f:
        accuracy = float(f["test_accuracy"])
        assert len(f["params"]) == 61
    capsys.readouterr()
    argv = [*map(str, common), "--mode", "inference"]
    assert training_main("cifar10", "Quant" in script, str(REPO / script), argv) == 0
    assert f"test accuracy {accuracy:.4f}" in capsys.readouterr().out


def test_default_output_dir_is_the_script_folder_and_data_dir_is_repo_data():
    from quant_snn.cli import recipe_settings, training_parser

    args = training_parser("cifar10", True, str(REPO / "CIFAR10" / "Quant_VGG_CIFAR10.py")).parse_args([])
    assert args.output_dir == REPO / "CIFAR10" and args.data_dir == REPO / "data"
    settings = recipe_settings(args)  # the original recipe fills in what the command line leaves out
    assert (args.k, args.B, args.resume, settings["learning_rate"], args.mode, settings["epochs"], args.batch_size) == (
        1, 2.0, False, 0.001, "training", 200, 200)


@pytest.mark.parametrize("text,value", [("True", True), ("False", False), ("true", True), ("0", False)])
def test_resume_is_a_python_literal(text, value):
    from quant_snn.cli import literal_bool

    assert literal_bool(text) is value


def in_process(capsys, argv, dataset="cifar10", script=QUANT10):
    """The training entry point in this process: (exit status, its error lines), stderr otherwise clean."""
    capsys.readouterr()
    code = training_main(dataset, True, script, [str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [line for line in err.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--k", "1", "--B", "0.25"], "impossible --k 1 --B 0.25"),
        (["--k", "-1"], "impossible --k -1"),
        (["--resume", "True"], "no checkpoint"),
        (["--mode", "inference"], "weights file"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--seed", "-1"], "--seed must be a whole number from 0 to"),
    ],
)
def test_bad_input_is_one_error_line(tmp_path, cifar10_dir, capsys, args, message):
    code, errors = in_process(capsys, ["--data_dir", cifar10_dir, "--output_dir", tmp_path, *args])
    assert code == 2 and len(errors) == 1 and message in errors[0], errors
    assert not [p for p in tmp_path.iterdir() if not p.name.endswith(".lock")]  # refused before any file


def test_missing_dataset_without_network_is_one_error_line(tmp_path, capsys):
    code, errors = in_process(capsys, ["--data_dir", tmp_path / "nothing", "--output_dir", tmp_path])
    assert code == 2 and "could not download cifar-10-python.tar.gz" in errors[0]
    assert not list((tmp_path / "nothing").glob("*.tar.gz"))


def test_weights_that_do_not_match_the_flags(tmp_path, cifar10_dir, cifar100_dir, capsys):
    npz = tmp_path / "model_cifar_10_k1B2.npz"
    save_npz(npz, build_network(10, QuantConfig(1, 2)), dataset="cifar10", quant=QuantConfig(1, 2), epochs=1,
             test_accuracy=0.1)
    common = ["--output_dir", tmp_path, "--batch_size", "20", "--verbose", "0", "--mode", "inference", "--npz", npz]
    code, errors = in_process(capsys, ["--data_dir", cifar10_dir, *common, "--k", "0"])
    assert code == 2 and "flags ask for k0B2" in errors[0]
    # the CIFAR-100 script itself (its wiring to the cifar100 dataset), in a subprocess
    wrong_set = run("CIFAR100/Quant_VGG_CIFAR100.py", "--data_dir", cifar100_dir, *common)
    assert wrong_set.returncode == 2 and "not cifar100" in error_lines(wrong_set)[0], wrong_set.stderr[-2000:]


def test_bad_flag_value_is_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit) as exit_status:
        training_main("cifar10", True, QUANT10, ["--resume", "maybe"])
    assert exit_status.value.code == 2 and "expected True or False" in capsys.readouterr().err
