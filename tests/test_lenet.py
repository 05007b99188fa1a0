"""The LeNet on MNIST from the same code as the VGG-Net: data files, the authors' weights layout, training, resume,
spiking = ANN, integer form and NIR export, on tiny synthetic MNIST-format data."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from conftest import REPO

from quant_snn.architecture import LENET
from quant_snn.data import Dataset, load_dataset
from quant_snn.datasets import MNIST
from quant_snn.errors import UserError
from quant_snn.mnist_data import write_idx
from quant_snn.quant_config import QuantConfig
from quant_snn.weights import check_npz, read_npz

K1B2 = QuantConfig(1, 2)
AUTHORS_NPZ = REPO / "LeNet" / "original" / "model_mnist.npz"


def write_mnist(folder, train=12, test=8, seed=0, compress=("t10k-images-idx3-ubyte",), labels=None):
    """Synthetic MNIST files in the official IDX layout; returns MNIST's spec with their checksums."""
    rng = np.random.default_rng(seed)
    sums = []
    for images_name, labels_name, n in ((MNIST.train_files[0], MNIST.train_files[1], train),
                                        (MNIST.test_files[0], MNIST.test_files[1], test)):
        for name, array in ((images_name, rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)),
                            (labels_name, rng.integers(0, 10, size=n) if labels is None else labels[:n])):
            data = write_idx(folder, name, array, compress=name in compress)
            sums.append((name, "", hashlib.md5(data).hexdigest()))
    return replace(MNIST, checksums=tuple(sums), train_images=None)


def test_mnist_files_load_plain_or_gzip(tmp_path):
    spec = write_mnist(tmp_path / "mnist")
    data = load_dataset(spec, tmp_path)
    assert data.x_train.shape == (12, 28, 28, 1) and data.x_test.shape == (8, 28, 28, 1)
    assert data.x_train.dtype == np.uint8 and data.y_test.dtype == np.int32
    assert load_dataset(replace(spec, train_images=5), tmp_path).x_train.shape[0] == 5  # the original's split


def test_a_file_without_the_official_checksum_is_refused_and_kept(tmp_path):
    write_mnist(tmp_path / "mnist")
    with pytest.raises(UserError, match="is not the official train-images-idx3-ubyte.*left as it is"):
        load_dataset(MNIST, tmp_path)
    assert (tmp_path / "mnist" / "train-images-idx3-ubyte").is_file()


@pytest.mark.parametrize("damage, message", [
    (lambda data: b"\x00\x00\x08\x04" + data[4:], "not an MNIST image file"),  # wrong magic number
    (lambda data: data[:-28], "not an MNIST image file"),  # one row short
])
def test_broken_image_files_are_one_clear_error(tmp_path, damage, message):
    spec = write_mnist(tmp_path / "mnist")
    path = tmp_path / "mnist" / "train-images-idx3-ubyte"
    broken = damage(path.read_bytes())
    path.write_bytes(broken)
    sums = tuple((n, g, hashlib.md5(broken).hexdigest() if n == path.name else m) for n, g, m in spec.checksums)
    with pytest.raises(UserError, match=message):
        load_dataset(replace(spec, checksums=sums), tmp_path)


def test_a_fifo_or_an_unwritable_folder_is_one_line_not_a_hang_or_a_traceback(tmp_path):
    import os

    spec = write_mnist(tmp_path / "mnist")
    fifo = tmp_path / "mnist" / MNIST.train_files[0]
    (tmp_path / "mnist" / f"{MNIST.train_files[0]}").unlink(missing_ok=True)
    os.mkfifo(fifo)  # reading it once blocked forever
    with pytest.raises(UserError, match="is not a plain file"):
        load_dataset(spec, tmp_path)
    blocked = tmp_path / "a_file"  # a folder that cannot be made stands for one that cannot be written
    blocked.write_text("")
    with pytest.raises(UserError, match=r"data folder .*a_file/x/mnist cannot be written .*cannot download"):
        load_dataset(spec, blocked / "x")


def test_labels_out_of_range_are_refused(tmp_path):
    spec = write_mnist(tmp_path / "mnist", labels=np.array([3] * 11 + [10] + [1] * 8))
    with pytest.raises(UserError, match="labels outside 0..9"):
        load_dataset(spec, tmp_path)


def test_a_missing_file_is_downloaded_or_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="could not download train-images-idx3-ubyte.gz"):
        load_dataset(MNIST, tmp_path / "data")  # the autouse fixture points downloads at an empty folder


def test_the_description_is_the_layout_of_the_authors_file():
    params, info = read_npz(AUTHORS_NPZ)
    assert info.sha256 == "d0d72bd3cd76b8d85d747d85aa3cfa2cc8e993631ca9865abf05457d4ebc6c8f"
    assert [p.shape for p in params] == LENET.param_shapes(10)
    assert LENET.layer_shapes() == [(28, 28, 16), (24, 24, 16), (12, 12, 16), (8, 8, 32), (4, 4, 32), (1, 1, 256)]
    check_npz(AUTHORS_NPZ, params, info, dataset="mnist", quant=K1B2)  # ternary where the description says
    with pytest.raises(UserError, match="a cifar10 k1B2 VGG-Net needs 61"):
        check_npz(AUTHORS_NPZ, params, info, dataset="cifar10", quant=K1B2)


@pytest.fixture(scope="module")
def trained_lenet(tmp_path_factory):
    """A k1B2 LeNet trained one epoch, then resumed for a second, on 40 synthetic digits."""
    from quant_snn.train import RunConfig, train

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 10, size=60)
    images = rng.integers(0, 40, size=(60, 28, 28, 1))
    for i, label in enumerate(labels):  # a bright bar whose row tells the class
        images[i, 2 + 2 * label : 5 + 2 * label] += 200
    data = Dataset(images[:40].astype(np.uint8), labels[:40].astype(np.int32),
                   images[40:].astype(np.uint8), labels[40:].astype(np.int32))
    out = tmp_path_factory.mktemp("lenet")
    cfg = dict(dataset="mnist", quant=K1B2, data_dir=out, output_dir=out, epochs=1, batch_size=20, verbose=0,
               learning_rate=0.01)
    train(RunConfig(**cfg), data)
    history = train(RunConfig(**cfg, resume=True), data)
    return out, data, history


def test_lenet_trains_and_resumes(trained_lenet):
    out, _, history = trained_lenet
    assert [row["epoch"] for row in history] == [1, 2]
    params, info = read_npz(out / "model_mnist_k1B2.npz")
    assert info.dataset == "mnist" and info.epochs == 2 and [p.shape for p in params] == LENET.param_shapes(10)


def test_lenet_spiking_network_equals_its_ann_and_integer_form_and_nir(trained_lenet, tmp_path):
    from test_nir_export import check_against_simulator
    from test_spiking import simulate

    from quant_snn.export import integer_network, run_integer
    from quant_snn.spiking_eval import SpikingRunConfig, run_spiking

    out, data, _ = trained_lenet
    npz = out / "model_mnist_k1B2.npz"
    stats = run_spiking(SpikingRunConfig(dataset="mnist", quant=K1B2, npz=npz, data_dir=out, figs_dir=tmp_path,
                                         batch_size=7), data)
    assert stats.config.network == "lenet" and stats.config.images == 20
    assert stats.differing_images == 0
    assert stats.layers[-1].ann_macs_per_image == 256 * 10
    params, _ = read_npz(npz)
    images = (data.x_test.astype(np.float32) / np.float32(255))[:6]
    net = integer_network(params, K1B2, LENET)
    counts, potential = run_integer(net, images)
    _, sim_potential, _, _, sim_counts = simulate(params, K1B2, LENET.convs, images)
    for ours, theirs in zip(counts, sim_counts):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(np.argmax(potential, 1), np.argmax(sim_potential, 1))
    from quant_snn.nir_export import write_nir

    path = write_nir(net, tmp_path / "lenet.nir")
    check_against_simulator(path, params, K1B2, LENET.convs, images)


def test_the_lenet_scripts_take_the_original_flags():
    for script in ("Quant_LeNet_MNIST.py", "FP32_LeNet_MNIST.py", "Spiking_LeNet_MNIST.py"):
        result = subprocess.run([sys.executable, str(REPO / "LeNet" / script), "--help"], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        flags = ("--k", "--B", "--noise_ratio") if script.startswith("Spiking") else ("--resume", "--mode")
        assert all(flag in result.stdout for flag in flags) and "MNIST" in result.stdout
