"""The original authors' trained LeNet: this project's spiking network beside the original code's thresholds.

The original simulator folds batch norm into thresholds without the ANN quantizer's 1e-5 rounding offset; this
project folds it in (docs/DESIGN.md). Both are run here in the numpy integer form (:mod:`quant_snn.export`, which
equals the Keras simulator neuron for neuron), on the official MNIST test set, and every image on which they
classify differently is listed with the neurons that flipped: each lies within 1e-5 / 2^k of a quantization step.
Also reported: the same with the input scaled by 1/256 instead of 1/255 (the tensorlayer MNIST loader's scale).

    python bench/lenet_authors_check.py [--npz LeNet/original/model_mnist.npz] [--data_dir data]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._cli import run_main  # noqa: E402
from quant_snn.data import load_dataset  # noqa: E402
from quant_snn.datasets import MNIST  # noqa: E402
from quant_snn.export import integer_network, run_integer  # noqa: E402
from quant_snn.quant_config import QuantConfig  # noqa: E402
from quant_snn.weights import check_npz, read_npz  # noqa: E402

BATCH = 500


def run(net, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Predictions, spikes per image and every layer's counts (kept for the listed images only by the caller)."""
    predictions, spikes, counts = [], [], []
    for begin in range(0, len(images), BATCH):
        layer_counts, potential = run_integer(net, images[begin : begin + BATCH])
        predictions.append(np.argmax(potential, axis=1))
        spikes.append(sum(c.reshape(len(c), -1).sum(axis=1) for c in layer_counts))
        counts.append(layer_counts)
    return np.concatenate(predictions), np.concatenate(spikes), counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npz", type=Path, default=ROOT / "LeNet" / "original" / "model_mnist.npz")
    parser.add_argument("--data_dir", type=Path, default=ROOT / "data")
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--B", type=float, default=2.0)
    args = parser.parse_args(argv)
    quant = QuantConfig(args.k, args.B)
    params, info = read_npz(args.npz)
    check_npz(args.npz, params, info, dataset="mnist", quant=quant)
    data = load_dataset(MNIST, args.data_dir)
    labels = data.y_test
    pixels = data.x_test.astype(np.float32)
    print(f"{args.npz} (sha256 {info.sha256[:16]}...), {quant.tag}, {len(labels)} official MNIST test images\n")
    print("| input | thresholds | accuracy | spikes / image | images classified unlike this project's SNN |")
    print("| --- | --- | --- | --- | --- |")
    for divisor in (255, 256):
        images = pixels / np.float32(divisor)
        ours = integer_network(params, quant, MNIST.architecture)
        theirs = integer_network(params, quant, MNIST.architecture, rounding_offset=0.0)
        ours_pred, ours_spikes, ours_counts = run(ours, images)
        their_pred, their_spikes, their_counts = run(theirs, images)
        differing = np.flatnonzero(ours_pred != their_pred)
        for name, pred, spikes, note in (("this project (1e-5 offset folded in)", ours_pred, ours_spikes, "-"),
                                         ("original code (no offset)", their_pred, their_spikes, str(len(differing)))):
            print(f"| pixels / {divisor} | {name} | {100 * np.mean(pred == labels):.2f}% | {spikes.mean():,.1f} | "
                  f"{note} |")
        for i in differing:
            batch, row = divmod(int(i), BATCH)
            flips = []
            for layer, (a, b) in enumerate(zip(ours_counts[batch], their_counts[batch])):
                changed = int(np.sum(a[row] != b[row]))
                if changed:
                    flips.append(f"{ours.convs[layer].spec.name}: {changed} neurons")
            print(f"|   image {i} (label {labels[i]}) | this project {ours_pred[i]}, original code {their_pred[i]} | "
                  f"| | neurons counted differently: {'; '.join(flips)} |")
    print("\nIn the first layer that differs, the two networks see the same input, so every neuron counted "
          "differently there has a batch-norm output in [a - 1e-5/2^k, a) below a step a = (i + 1/2)/2^k, where the "
          "ANN's round(x * 2^k + 1e-5) steps up and the original thresholds do not; later layers differ because "
          "their input does.")


if __name__ == "__main__":
    run_main(main)
