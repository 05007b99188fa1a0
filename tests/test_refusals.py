"""Bad input that used to give a traceback, a hang or silent acceptance now ends in one clear line."""

import socket

import pytest

from quant_snn import data as data_module
from quant_snn.cli import run_cli
from quant_snn.config import CIFAR10, MAX_LEVELS, QuantConfig
from quant_snn.data import DOWNLOAD_TIMEOUT_S, download_archive, load_cifar
from quant_snn.errors import UserError
from quant_snn.train import RunConfig, check_output_dir


def test_infinite_learning_rate_is_refused():
    with pytest.raises(UserError, match="--learning_rate must be a positive number"):
        RunConfig(dataset="cifar10", quant=QuantConfig(1, 2), data_dir=".", output_dir=".", learning_rate=float("inf"))


def test_absurd_levels_are_refused():
    with pytest.raises(UserError, match=f"at most {MAX_LEVELS} are supported"):
        QuantConfig(1, 1e9)
    assert QuantConfig(3, 4).levels == 32  # large but sane still works


def test_data_dir_that_is_a_file(tmp_path):
    path = tmp_path / "not-a-folder"
    path.write_text("x")
    with pytest.raises(UserError, match="is a file, not a folder"):
        load_cifar(CIFAR10, path)


def test_output_dir_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="--output_dir .* cannot be written"):
        check_output_dir(blocker / "run")
    check_output_dir(tmp_path / "fine")
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
