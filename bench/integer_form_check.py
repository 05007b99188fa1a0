"""The integer form against the simulator on real test images: spike counts neuron for neuron, and predictions.

    python bench/integer_form_check.py --npz CIFAR10/model_cifar_10_k1B2.npz [--k 1 --B 2] [--limit 10000]

Per batch of 50, the simulator (compiled, with every layer's counts as outputs) and ``export.run_integer`` (numpy)
run on the same standardized images; prints differing neurons, differing predictions and both runs' seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from bench._cli import positive_int, run_main  # noqa: E402
from quant_snn.augment import preprocess_test  # noqa: E402
from quant_snn.data import load_dataset  # noqa: E402
from quant_snn.datasets import dataset_spec  # noqa: E402
from quant_snn.export import integer_network, run_integer  # noqa: E402
from quant_snn.model import build_network  # noqa: E402
from quant_snn.precision import compile_for_inference, use_full_float32  # noqa: E402
from quant_snn.quant_config import QuantConfig  # noqa: E402
from quant_snn.spiking_utils import build_spiking_model  # noqa: E402
from quant_snn.weights import load_npz  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npz", type=Path, required=True)
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--B", type=float, default=2.0)
    parser.add_argument("--data_dir", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    parser.add_argument("--limit", type=positive_int, default=None, help="only the first LIMIT test images (>= 1)")
    args = parser.parse_args(argv)
    use_full_float32()
    quant, spec = QuantConfig(args.k, args.B), dataset_spec(args.dataset)
    arch = spec.architecture
    params, _ = load_npz(args.npz, build_network(spec.n_classes, quant, arch), dataset=args.dataset, quant=quant)
    snn = compile_for_inference(build_spiking_model(params, quant, arch=arch, return_counts=True).model)
    net = integer_network(params, quant, arch)
    data = load_dataset(spec, args.data_dir)
    x_test = data.x_test[: args.limit]
    neurons = differing_neurons = differing_predictions = 0
    seconds = {"simulator": 0.0, "integer form": 0.0}
    for begin in range(0, len(x_test), 50):
        images = keras.ops.convert_to_numpy(preprocess_test(x_test[begin : begin + 50], arch))
        start = time.perf_counter()
        potential, _, _, counts = snn.predict_on_batch(images)
        counts = [keras.ops.convert_to_numpy(c) for c in counts]
        seconds["simulator"] += time.perf_counter() - start
        start = time.perf_counter()
        integer_counts, integer_potential = run_integer(net, images)
        seconds["integer form"] += time.perf_counter() - start
        for ours, theirs in zip(integer_counts, counts):
            neurons += ours.size
            differing_neurons += int((ours != theirs).sum())
        differing_predictions += int((np.argmax(keras.ops.convert_to_numpy(potential), 1)
                                      != np.argmax(integer_potential, 1)).sum())
    print(f"{args.npz}: {len(x_test)} images, {neurons:.4g} neuron counts compared: {differing_neurons} differ; "
          f"predictions differing: {differing_predictions}; seconds: "
          + ", ".join(f"{name} {s:.1f}" for name, s in seconds.items()))


if __name__ == "__main__":
    run_main(main)
