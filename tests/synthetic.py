"""Tiny CIFAR look-alikes in the official file formats, written by the tests themselves (no downloads)."""

from __future__ import annotations

import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from quant_snn.architecture import VGG, Architecture, ConvSpec
from quant_snn.data import write_batch
from quant_snn.datasets import DatasetSpec

# A three-convolution variant of the VGG (encoding layer, a ternary 3x3, a ternary 2x2 stride-2 "pooling"): tests of
# the training loop's bookkeeping (resume, checkpoints, schedules) train it in a fraction of the VGG's compile time.
SMALL_CONVS = (ConvSpec("conv00", 8, 3, ternary=False), ConvSpec("conv0", 8, 3), ConvSpec("conv1", 8, 2, 2))
SMALL = VGG.variant(SMALL_CONVS)


def arch_of(convs, input_shape=(24, 24, 3), base: Architecture = VGG) -> Architecture:
    """A test network: ``convs`` on ``input_shape``, the first convolution real-valued (the pixel encoder)."""
    return base.variant((replace(convs[0], ternary=False), *convs[1:]), tuple(input_shape))


def learnable_images(labels: np.ndarray, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Images whose mean colour and a stripe position depend on the class, plus noise: easy to learn."""
    n = len(labels)
    images = rng.integers(0, 60, size=(n, 32, 32, 3)).astype(np.int32)
    for i, label in enumerate(labels):
        images[i, :, :, label % 3] += 120
        row = 4 + (label * 7) % 24
        images[i, row : row + 4, :, :] += 70
    return np.clip(images, 0, 255).astype(np.uint8)


def hue_images(labels: np.ndarray, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Flat images whose hue encodes the class (angles 360/n_classes apart around the grey axis), plus noise.

    Crops, flips, brightness, contrast and per-image standardization all keep the hue, so a network learns this
    in one short epoch: a fair test of whether training works, not of how well."""
    grey = np.ones(3) / np.sqrt(3)
    e1 = np.array([1.0, -1.0, 0.0]) / np.sqrt(2)
    e2 = np.cross(grey, e1)
    angle = 2 * np.pi * labels / n_classes
    colour = 128 + 70 * (np.cos(angle)[:, None] * e1 + np.sin(angle)[:, None] * e2)
    images = colour[:, None, None, :] + rng.normal(0, 12, size=(len(labels), 32, 32, 3))
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def write_dataset(spec: DatasetSpec, data_dir: Path, per_file: int = 20, test: int = 20, seed: int = 0,
                  images=learnable_images) -> Path:
    """Write ``spec.folder`` under ``data_dir`` with ``per_file`` images per training file; returns the folder."""
    rng = np.random.default_rng(seed)
    folder = Path(data_dir) / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    for name, count in [(f, per_file) for f in spec.train_files] + [(f, test) for f in spec.test_files]:
        labels = rng.integers(0, spec.n_classes, size=count)
        write_batch(folder / name, images(labels, spec.n_classes, rng), labels, spec.label_key)
    return folder


def write_archive(spec: DatasetSpec, data_dir: Path, out: Path, **kwargs) -> Path:
    """Pack a synthetic dataset into ``out`` as a .tar.gz with the official top-level folder."""
    folder = write_dataset(spec, data_dir, **kwargs)
    with tarfile.open(out, "w:gz") as tar:
        tar.add(folder, arcname=spec.folder)
    return out


__all__ = ["write_dataset", "write_archive", "learnable_images", "hue_images", "SMALL_CONVS", "SMALL", "arch_of"]
