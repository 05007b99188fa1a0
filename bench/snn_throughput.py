"""Images/s of the spiking simulator, of the numpy test oracle and of quantized-ANN inference from the same npz.

All three run in one process on the same standardized images; SNN and ANN are timed in alternating rounds so
background load hits both alike, at batch 50 (the original's) and at each batch size of --batch_sizes. Peak
memory (ru_maxrss) is read after one pass and after --passes passes over the images: it must stay flat.

    python bench/snn_throughput.py [--npz CIFAR10/model_cifar_10_k1B2.npz] [--images 1000]
    python bench/snn_throughput.py --noise 0.1      # only: noisy against noiseless SNN, and the per-spike baseline

With ``--noise`` it times, at batch 50 in alternating rounds, the noiseless SNN, the noisy SNN (one uniform per
neuron, quant_snn/spike_noise.py) and the earlier way (one ``keras.random.uniform`` per threshold, kept below as
the baseline), and prints each noisy one's time relative to the noiseless run.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import keras  # noqa: E402
import numpy as np  # noqa: E402
from snn_oracle import run_oracle  # noqa: E402

from bench._cli import positive_int, positive_int_list, run_main  # noqa: E402
from quant_snn.architecture import VGG  # noqa: E402
from quant_snn.flag_checks import check_noise_ratio  # noqa: E402
from quant_snn.model import build_network  # noqa: E402
from quant_snn.precision import compile_for_inference, use_full_float32  # noqa: E402
from quant_snn.quant_config import QuantConfig  # noqa: E402
from quant_snn.spiking_utils import SpikingConv2D, build_spiking_model  # noqa: E402
from quant_snn.weights import assign_params, model_params, read_npz  # noqa: E402


def random_params(quant: QuantConfig) -> list[np.ndarray]:
    """A random k/B VGG-Net with spread-out batch norms (speed does not depend on training)."""
    model = build_network(10, quant)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.name.startswith("bn"):
            layer.gamma.assign(rng.normal(1, 0.3, layer.gamma.shape))
            layer.beta.assign(rng.normal(0.5, 0.3, layer.beta.shape))
            layer.moving_variance.assign(np.full(layer.moving_variance.shape, 0.05))
    return model_params(model)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_batches(model: keras.Model, images: np.ndarray, batch: int) -> None:
    for begin in range(0, len(images), batch):
        model.predict_on_batch(images[begin : begin + batch])


class PerSpikeNoiseConv(SpikingConv2D):
    """The earlier noise (baseline): one ``keras.random.uniform`` per threshold, each spike kept when >= p."""

    def call(self, inputs):
        if self.noise_ratio == 0:
            return super().call(inputs)
        x = inputs * self.input_scale if self.input_scale != 1.0 else inputs
        mem = keras.ops.conv(x, self.kernel, strides=self.strides, padding=self.padding)
        fired = keras.ops.expand_dims(mem, -1) - self.hi >= self.lo
        kept = keras.random.uniform(keras.ops.shape(fired), seed=self.seed_generator) >= self.noise_ratio
        counts = keras.ops.sum(keras.ops.cast(keras.ops.logical_and(fired, kept), "float32"), axis=-1)
        return counts, keras.ops.sum(counts, axis=-1)


def time_noise(params: list[np.ndarray], quant: QuantConfig, images: np.ndarray, ratio: float, rounds: int) -> None:
    """Noisy against noiseless SNN at batch 50, alternating rounds, and the per-spike baseline."""
    import quant_snn.spiking_utils as spiking_utils

    models = {"noiseless": build_spiking_model(params, quant).model,
              "noisy": build_spiking_model(params, quant, noise_ratio=ratio, seed=0).model}
    spiking_utils.SpikingConv2D = PerSpikeNoiseConv
    try:
        models["noisy, per-spike baseline"] = build_spiking_model(params, quant, noise_ratio=ratio, seed=0).model
    finally:
        spiking_utils.SpikingConv2D = SpikingConv2D
    seconds = dict.fromkeys(models, 0.0)
    for model in models.values():
        compile_for_inference(model)
        run_batches(model, images[:100], 50)
    for _ in range(rounds):
        for name, model in models.items():
            start = time.perf_counter()
            run_batches(model, images, 50)
            seconds[name] += time.perf_counter() - start
    for name, s in seconds.items():
        print(f"{name:28s} {rounds * len(images) / s:7.1f} images/s, time / noiseless {s / seconds['noiseless']:.2f}")


def time_preprocessing(snn_rate: float | None, rounds: int) -> None:
    """Test-time preprocessing at batch 50: the exact standardization of integer pixels (what the spiking run uses)
    against the float32 one it replaced, alternating rounds, and the difference relative to the SNN's own time."""
    from quant_snn.augment import central_crop, preprocess_test, standardize

    pixels = np.random.default_rng(2).integers(0, 256, size=(1000, 32, 32, 3), dtype=np.uint8)
    ways = {"exact (standardize_pixels)": lambda x: preprocess_test(x),
            "float32 (standardize)": lambda x: standardize(central_crop(x.astype(np.float32)))}
    seconds = dict.fromkeys(ways, 0.0)
    for _ in range(rounds + 1):  # the first round warms up
        for name, way in ways.items():
            start = time.perf_counter()
            for begin in range(0, len(pixels), 50):
                keras.ops.convert_to_numpy(way(pixels[begin : begin + 50]))
            seconds[name] += (time.perf_counter() - start) if _ else 0.0
    per_batch = {name: 1000 * s / (rounds * len(pixels) / 50) for name, s in seconds.items()}
    line = ", ".join(f"{name} {ms:.2f} ms" for name, ms in per_batch.items())
    if snn_rate:
        snn_ms = 1000 * 50 / snn_rate
        extra = per_batch["exact (standardize_pixels)"] - per_batch["float32 (standardize)"]
        line += f"; difference {extra:+.2f} ms = {100 * extra / snn_ms:+.1f}% of the SNN's {snn_ms:.1f} ms per batch"
    print(f"test-time preprocessing per batch of 50: {line}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npz", type=Path, default=None, help="weights file (default: a random k1B2 network)")
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--B", type=float, default=2.0)
    parser.add_argument("--images", type=positive_int, default=1000)
    parser.add_argument("--batch_sizes", type=positive_int_list, default=[50, 100, 250, 500])
    parser.add_argument("--rounds", type=positive_int, default=3)
    parser.add_argument("--passes", type=positive_int, default=3, help="passes over the images for the memory check")
    parser.add_argument("--oracle_images", type=positive_int, default=2)
    parser.add_argument("--noise", type=float, default=None, help="time only noise (this drop ratio) vs noiseless")
    args = parser.parse_args(argv)
    if args.noise is not None:
        check_noise_ratio(args.noise, "--noise")

    use_full_float32()
    quant = QuantConfig(args.k, args.B)
    params = read_npz(args.npz)[0] if args.npz else random_params(quant)
    ann = build_network(params[-1].shape[1], quant)
    assign_params(ann, params)
    compile_for_inference(ann)
    snn = compile_for_inference(build_spiking_model(params, quant).model)
    images = np.random.default_rng(1).normal(size=(args.images, 24, 24, 3)).astype(np.float32)
    if args.noise is not None:
        print(f"backend {keras.backend.backend()}, keras {keras.__version__}, {os.cpu_count()} CPUs, "
              f"{quant.tag}, {args.images} images, noise {args.noise:g} in the first layer")
        return time_noise(params, quant, images, args.noise, args.rounds)
    print(f"backend {keras.backend.backend()}, keras {keras.__version__}, {os.cpu_count()} CPUs, "
          f"{'npz ' + str(args.npz) if args.npz else 'random'} {quant.tag} network, {args.images} images")

    results = {}
    for batch in args.batch_sizes:
        for model in (snn, ann):
            run_batches(model, images[: 2 * batch], batch)  # compile for this batch shape
        seconds = {"snn": 0.0, "ann": 0.0}
        for _ in range(args.rounds):
            for name, model in (("snn", snn), ("ann", ann)):
                start = time.perf_counter()
                run_batches(model, images, batch)
                seconds[name] += time.perf_counter() - start
        rate = {name: args.rounds * args.images / s for name, s in seconds.items()}
        results[batch] = rate
        print(f"batch {batch:4d}: SNN {rate['snn']:7.1f} images/s, ANN {rate['ann']:7.1f} images/s, "
              f"SNN/ANN time per image {rate['ann'] / rate['snn']:.3f}")
    fastest = max(results, key=lambda b: results[b]["snn"])
    print(f"fastest SNN batch size {fastest}: "
          f"SNN/ANN time per image {results[fastest]['ann'] / results[fastest]['snn']:.3f}"
          f" (batch 50: {results.get(50, results[fastest])['ann'] / results.get(50, results[fastest])['snn']:.3f})")

    time_preprocessing(results[50]["snn"] if 50 in results else None, args.rounds)

    start = time.perf_counter()
    run_oracle(params, quant.k, quant.n_thresholds, VGG.convs, images[: args.oracle_images])
    oracle_rate = args.oracle_images / (time.perf_counter() - start)
    print(f"numpy oracle (tests/snn_oracle.py): {oracle_rate:.2f} images/s; "
          f"simulator/oracle speed {results[fastest]['snn'] / oracle_rate:.0f}x")

    rss = []
    for _ in range(args.passes):
        run_batches(snn, images, 50)
        rss.append(peak_rss_mib())
    print(f"peak memory after each of {args.passes} passes over {args.images} images: "
          + ", ".join(f"{r:.0f}" for r in rss) + " MiB")


if __name__ == "__main__":
    run_main(main)
