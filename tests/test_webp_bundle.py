"""A lossless WebP bundle (how CIFAR travels to a machine without internet) becomes the official layout that the
scripts read, pixel for pixel, and ``bench/gpu_stage.py`` carries it in checked parts."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from quant_snn.data import load_dataset
from quant_snn.datasets import dataset_spec
from quant_snn.errors import UserError

webp = importlib.import_module("bench.cifar_from_webp")
stage = importlib.import_module("bench.gpu_stage")


def splits(dataset: str, train: int = 10, test: int = 5, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    classes = dataset_spec(dataset).n_classes
    return {split: (rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), rng.integers(0, classes, size=n))
            for split, n in (("train", train), ("test", test))}


def as_rows(images: np.ndarray) -> np.ndarray:
    """The loader's (N, 32, 32, 3) images back in the files' rows: R, G, B planes."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), 3072)


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_bundle_converts_to_the_official_layout_pixel_for_pixel(tmp_path: Path, dataset: str) -> None:
    data = splits(dataset)
    bundle = webp.write_bundle(tmp_path / "bundle.npz", dataset, data)
    spec = dataset_spec(dataset)
    webp.convert(dataset, bundle, tmp_path / "data" / spec.folder)
    loaded = load_dataset(spec, tmp_path / "data")
    assert np.array_equal(as_rows(loaded.x_train), data["train"][0])
    assert np.array_equal(as_rows(loaded.x_test), data["test"][0])
    assert np.array_equal(loaded.y_train.ravel(), data["train"][1]) and np.array_equal(loaded.y_test.ravel(),
                                                                                       data["test"][1])
    provenance = (tmp_path / "data" / spec.folder / "PROVENANCE.txt").read_text()
    assert provenance.startswith("converted from a lossless WebP bundle") and "15 images" in provenance


def test_bundle_travels_in_parts_and_is_converted_on_arrival(tmp_path: Path, capsys) -> None:
    data = splits("cifar100", train=20)
    bundle = webp.write_bundle(tmp_path / "bundle.npz", "cifar100", data)
    folders = stage.pack("cifar100", tmp_path / "here", tmp_path / "parts", 0.01, bundle)
    assert len(folders) > 2
    for i, folder in enumerate(folders):  # one call each, carrying its part only
        carried = tmp_path / f"call{i}"
        carried.mkdir()
        folder.rename(carried / folder.name)
        assert stage.receive(carried, tmp_path / "kept")[-1].endswith(f".{i:03d}")
    target = stage.unpack(tmp_path / "kept", tmp_path / "there")
    loaded = load_dataset(dataset_spec("cifar100"), tmp_path / "there")
    assert target.name == "cifar-100-python" and np.array_equal(as_rows(loaded.x_train), data["train"][0])
    assert sorted(p.name for p in (tmp_path / "there").iterdir()) == ["cifar-100-python"]  # no temporary left


def test_a_bundle_that_does_not_convert_unpacks_nothing(tmp_path: Path) -> None:
    data = splits("cifar10", train=7)  # 7 training images do not divide into the five batches
    bundle = webp.write_bundle(tmp_path / "bundle.npz", "cifar10", data)
    for folder in stage.pack("cifar10", tmp_path / "here", tmp_path / "parts", 1, bundle):
        stage.receive(folder.parent, tmp_path / "kept")
    with pytest.raises(UserError, match="cannot convert the joined bundle: .*divide into 5 batches"):
        stage.unpack(tmp_path / "kept", tmp_path / "there")
    assert list((tmp_path / "there").iterdir()) == []


def test_a_bundle_with_an_image_that_does_not_decode_is_one_error(tmp_path: Path) -> None:
    bundle = webp.write_bundle(tmp_path / "bundle.npz", "cifar100", splits("cifar100"))
    with np.load(bundle) as f:
        members = dict(f)
    members["test_bytes"] = members["test_bytes"].copy()
    members["test_bytes"][:16] = 0  # the first test image's header
    np.savez(tmp_path / "bad.npz", **members)
    with pytest.raises(webp.BundleError, match="does not decode"):
        webp.convert("cifar100", tmp_path / "bad.npz", tmp_path / "out" / "cifar-100-python")
    (tmp_path / "text.npz").write_text("not an npz")
    with pytest.raises(webp.BundleError, match="is not a cifar10 WebP bundle"):
        webp.convert("cifar10", tmp_path / "text.npz", tmp_path / "out2" / "cifar-10-batches-py")
