"""Bad input that used to give a traceback, a hang or silent acceptance now ends in one clear line."""

import socket

import numpy as np
import pytest
from synthetic import write_dataset

from quant_snn import download as data_module
from quant_snn.atomic import writable_folder
from quant_snn.cli import run_cli
from quant_snn.data import download_archive, load_cifar
from quant_snn.datasets import CIFAR10
from quant_snn.download import DOWNLOAD_TIMEOUT_S
from quant_snn.errors import UserError
from quant_snn.quant_config import MAX_LEVELS, QuantConfig
from quant_snn.train import RunConfig


def test_infinite_learning_rate_is_refused():
    with pytest.raises(UserError, match="--learning_rate must be a positive number"):
        RunConfig(dataset="cifar10", quant=QuantConfig(1, 2), data_dir=".", output_dir=".", learning_rate=float("inf"))


def test_absurd_levels_are_refused():
    with pytest.raises(UserError, match=f"at most {MAX_LEVELS} are supported"):
        QuantConfig(1, 1e9)
    assert QuantConfig(3, 4).n_thresholds == 32  # large but sane still works


def test_data_dir_that_is_a_file(tmp_path):
    path = tmp_path / "not-a-folder"
    path.write_text("x")
    with pytest.raises(UserError, match="is a file, not a folder"):
        load_cifar(CIFAR10, path)


def test_output_dir_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="--output_dir .* cannot be written"):
        writable_folder(blocker / "run", "--output_dir")
    writable_folder(tmp_path / "fine", "--output_dir")
    assert (tmp_path / "fine").is_dir() and not list((tmp_path / "fine").iterdir())  # the probe leaves nothing


def test_download_has_a_timeout_and_restores_the_default(tmp_path, monkeypatch):
    seen = []

    def fake_get_file(**kwargs):
        seen.append(socket.getdefaulttimeout())
        raise TimeoutError("timed out")

    import keras

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    before = socket.getdefaulttimeout()
    with pytest.raises(UserError, match="could not download .*TimeoutError"):
        download_archive(CIFAR10, tmp_path, "https://example.invalid/x.tar.gz")
    assert seen == [DOWNLOAD_TIMEOUT_S] and socket.getdefaulttimeout() == before
    assert data_module.DOWNLOAD_TIMEOUT_S > 0


def test_ctrl_c_message_is_the_scripts_own(capsys):
    def interrupted():
        raise KeyboardInterrupt

    assert run_cli(interrupted, "interrupted: run the same command again") == 130
    assert capsys.readouterr().err == "interrupted: run the same command again\n"


def write_test_batch(folder, data, labels):
    import pickle

    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": data, b"labels": labels}, f)


@pytest.mark.parametrize("data, labels, message", [
    (np.zeros((2, 3072), np.uint8), [0.5, 1.0], "labels that are not whole numbers"),
    (np.zeros((2, 3072), np.uint8), [0, float("nan")], "labels that are not whole numbers"),
    (np.full((2, 3072), 300, np.int32), [0, 1], "pixel values that are not whole numbers in 0..255"),
    (np.full((2, 3072), 0.5), [0, 1], "pixel values that are not whole numbers in 0..255"),
    (np.zeros((0, 3072), np.uint8), [], "holds no test images"),
])
def test_dataset_values_a_cast_would_hide_are_refused(tmp_path, data, labels, message):
    folder = write_dataset(CIFAR10, tmp_path, per_file=2, test=2)
    write_test_batch(folder, data, labels)
    with pytest.raises(UserError, match=message):
        load_cifar(CIFAR10, tmp_path)


def quantized_npz(tmp_path, change):
    """A valid k1B2 npz of the small test network, then ``change(arrays)`` applied to it."""
    from quant_snn.model import build_network
    from quant_snn.weights import save_npz

    path = tmp_path / "k1B2.npz"
    save_npz(path, build_network(10, QuantConfig(1, 2)), dataset="cifar10", quant=QuantConfig(1, 2), epochs=3,
             test_accuracy=0.5)
    with np.load(path, allow_pickle=True) as f:
        arrays = dict(f)
    change(arrays)
    np.savez(path, **arrays)
    return path


def set_param(index, value):
    def change(arrays):
        arrays["params"][index] = np.full_like(arrays["params"][index], value)
    return change


@pytest.mark.parametrize("change, message", [
    (set_param(-1, np.nan), r"params\[.*\] holds NaN or infinity"),
    (set_param(2, np.inf), r"params\[2\] holds NaN or infinity"),
    (lambda arrays: arrays.update(epochs=np.int64(-3)), "records -3 epochs"),
    (lambda arrays: arrays.update(epochs=np.float64(2.5)), "metadata 'epochs' is 2.5, not one int value"),
    # metadata of the wrong type, as another tool might write it
    (lambda arrays: arrays.update(k=np.array([1, 2])), r"metadata 'k' is \[1 2\], not one int value"),
    (lambda arrays: arrays.update(k=np.float64(1.7)), "metadata 'k' is 1.7, not one int value"),
    (lambda arrays: arrays.update(quantized=np.str_("False")), "metadata 'quantized' is 'False', not one bool value"),
    (lambda arrays: arrays.update(test_accuracy=np.str_("high")), "metadata 'test_accuracy' is 'high', not one float"),
    (lambda arrays: arrays.update(n_classes=np.str_("ten")), "metadata 'n_classes' is 'ten', not one int value"),
    (lambda arrays: arrays.update(k=np.zeros((), dtype=[("a", "i4")])), "metadata 'k' is of dtype"),
    (set_param(5, 0.3), "non-ternary conv0 kernels"),
    (lambda arrays: arrays.update(format_version=np.int64(2)), "format version 2, newer than this code reads"),
])
def test_broken_weights_files_are_refused(tmp_path, change, message):
    from quant_snn.model import build_network
    from quant_snn.weights import load_npz

    path = quantized_npz(tmp_path, change)
    with pytest.raises(UserError, match=message):
        load_npz(path, build_network(10, QuantConfig(1, 2)), dataset="cifar10", quant=QuantConfig(1, 2))


def test_the_unbroken_file_loads(tmp_path):
    from quant_snn.model import build_network
    from quant_snn.weights import load_npz

    _, info = load_npz(quantized_npz(tmp_path, lambda arrays: None), build_network(10, QuantConfig(1, 2)),
                    dataset="cifar10", quant=QuantConfig(1, 2))
    assert info.epochs == 3


@pytest.mark.parametrize("name", ["nonsense", "numpy"])
def test_an_unusable_keras_backend_is_one_line(monkeypatch, capsys, name):
    """Keras answers an unknown backend with a traceback from inside its own import."""
    from quant_snn.cli.backend_check import check_keras_backend

    monkeypatch.setenv("KERAS_BACKEND", name)
    with pytest.raises(SystemExit) as exit_:
        check_keras_backend()
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith(f"error: KERAS_BACKEND={name} ") and err.count("\n") == 1
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    check_keras_backend()  # an installed one passes


def test_every_command_checks_the_backend_before_keras_is_imported():
    import subprocess
    import sys

    from conftest import script_env

    done = subprocess.run([sys.executable, "-m", "quant_snn", "showcase"], capture_output=True, text=True,
                          env={**script_env(), "KERAS_BACKEND": "nonsense"}, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith("error: KERAS_BACKEND=nonsense"), done.stderr
    assert done.stderr.count("\n") == 1
