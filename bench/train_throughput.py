"""Training images/s of the quantized VGG-Net, of the same network without quantization, of the quantized
network under the mixed_bfloat16 policy, and (--native_baseline) of the quantized network with every layer convolved
natively (``QuantConv2D.matmul_max_input = 0``: no layer as a matrix product), in one run.

All models (in-graph augmentation included) train on the same random CIFAR-sized batch; timed rounds alternate
between them so that background load hits all alike. Prints the rates, quantized/FP32 (target >= 0.85),
mixed_bfloat16/float32 and quantized/native. Runs on whatever KERAS_BACKEND names.

``--steps_per_execution N`` and/or ``--device_loop`` measure instead the training scripts' own paths over epochs of
``--steps`` batches, in one run: ``model.fit`` with one step per call (the baseline) and with N steps per call, and
``--loop device`` (JAX: the data on the device) with 1 and N steps per compiled call. Each prints images/s, epoch-runs/s
of a 50,000-image epoch, model TFLOP/s (6 x the forward multiply-accumulates per image) and their fraction of an
H200's ~790 TFLOP/s of dense bf16, the first epoch's seconds (compilation included), its ratio to the baseline and
the largest difference of its trained weights from the baseline's (every path starts from the same seed and data).

    python bench/train_throughput.py [--batch_size 200 --steps 5 --rounds 3 --k 1 --B 2 --no_mixed --native_baseline]
    python bench/train_throughput.py --steps_per_execution 25 --device_loop --steps 50 --precision mixed_bfloat16
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from bench._cli import positive_int, run_main  # noqa: E402
from quant_snn.model import conv_layers  # noqa: E402
from quant_snn.quant_config import FP32, QuantConfig  # noqa: E402
from quant_snn.train import build_training_model, compile_model  # noqa: E402


def time_steps(model: keras.Model, x, y, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return time.perf_counter() - start


PEAK_TFLOPS = 790.0  # dense bf16 matrix arithmetic of one NVIDIA H200
EPOCH_IMAGES = 50_000  # a CIFAR training epoch


class EpochSeconds(keras.callbacks.Callback):
    """Wall seconds of every epoch (the first one includes compilation)."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def loop_rates(args: argparse.Namespace, x: np.ndarray, y: np.ndarray) -> None:
    """The training scripts' paths over epochs of ``--steps`` batches, in one run: ``model.fit`` with one step per
    call (the baseline), with ``--steps_per_execution`` steps per call, and ``--loop device`` (JAX)."""
    from quant_snn.architecture import VGG
    from quant_snn.device_loop import fit_on_device
    from quant_snn.seeding import set_seed

    flop = 6 * sum(VGG.ann_macs(10))
    pixels = np.concatenate([x.astype(np.uint8)] * args.steps)  # whole numbers 0..255, as the datasets hold
    labels = np.concatenate([y] * args.steps)
    paths = {"fit, 1 step per call": ("fit", 1)}
    per_call = min(args.steps_per_execution or 1, args.steps)  # an epoch of --steps batches is the most per call
    if args.steps_per_execution:
        paths[f"fit, {per_call} steps per call"] = ("fit", per_call)
    if args.device_loop:
        paths["device loop, 1 step per call"] = ("device", 1)
        if args.steps_per_execution:
            paths[f"device loop, {per_call} steps per call"] = ("device", per_call)
    rates, weights = {}, {}
    for name, (loop, steps) in paths.items():
        set_seed(0)  # every path starts from the same weights and draws the same batches
        model, _ = build_training_model(10, QuantConfig(args.k, args.B), seed=0, precision=args.precision)
        compile_model(model, 1e-3, steps_per_execution=steps)
        timer = EpochSeconds()
        if loop == "device":
            fit_on_device(model, pixels, labels, batch_size=args.batch_size, epochs=1 + args.rounds,
                          steps_per_call=steps, callbacks=[timer], verbose=0)
        else:
            model.fit(pixels.astype(np.float32), labels, batch_size=args.batch_size, epochs=1 + args.rounds,
                      verbose=0, shuffle=True, callbacks=[timer])
        weights[name] = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
        first, rest = timer.seconds[0], timer.seconds[1:]
        rates[name] = len(pixels) * len(rest) / sum(rest)
        tflops = rates[name] * flop / 1e12
        print(f"{name}: {rates[name]:.1f} images/s, {rates[name] / EPOCH_IMAGES:.4f} epoch-runs/s, {tflops:.3f} "
              f"TFLOP/s of model arithmetic ({tflops / PEAK_TFLOPS:.2%} of {PEAK_TFLOPS:g}), first epoch "
              f"{first:.1f} s (compilation included)")
    baseline = next(iter(paths))
    for name in list(paths)[1:]:
        gap = max(float(np.max(np.abs(a - b))) for a, b in zip(weights[name], weights[baseline], strict=True))
        print(f"ratio {name} / {baseline}: {rates[name] / rates[baseline]:.3f}; largest weight difference after "
              f"{1 + args.rounds} epochs: {gap:.3g}" + (" (bit for bit)" if gap == 0 else ""))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=positive_int, default=200)
    parser.add_argument("--steps", type=positive_int, default=5, help="training steps per timed round")
    parser.add_argument("--rounds", type=positive_int, default=3)
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--B", type=float, default=2.0)
    parser.add_argument("--no_mixed", action="store_true", help="leave out the mixed_bfloat16 model")
    parser.add_argument("--steps_per_execution", type=positive_int, default=None,
                        help="compare model.fit with this many steps per call against 1 (and nothing else)")
    parser.add_argument("--device_loop", action="store_true",
                        help="compare --loop device (JAX: the training set on the device) at 1 and "
                             "--steps_per_execution steps per compiled call against model.fit")
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32",
                        help="--steps_per_execution / --device_loop: the training precision (default float32)")
    parser.add_argument("--native_baseline", action="store_true",
                        help="add the quantized model with native convolutions only (no layer as a matrix product)")
    args = parser.parse_args(argv)
    if args.device_loop:
        from quant_snn.device_loop import check_loop

        check_loop("device")  # before anything is printed or built
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, size=(args.batch_size, 32, 32, 3)).astype(np.float32)
    y = rng.integers(0, 10, size=args.batch_size).astype(np.int32)
    print(f"backend {keras.backend.backend()}, keras {keras.__version__}, {platform.processor() or platform.machine()}"
          f", {os.cpu_count()} CPUs, batch {args.batch_size}")
    if args.steps_per_execution or args.device_loop:
        return loop_rates(args, x, y)
    models = {}
    quant = QuantConfig(args.k, args.B)
    variants = [("quantized", quant, "float32"), ("fp32", FP32, "float32")]
    if not args.no_mixed:
        variants.append(("quantized mixed_bfloat16", quant, "mixed_bfloat16"))
    if args.native_baseline:
        variants.append(("quantized native", quant, "float32"))
    for name, config, precision in variants:
        model, core = build_training_model(10, config, seed=0, precision=precision)
        if name == "quantized native":
            for layer in conv_layers(core):
                layer.matmul_max_input = 0
        compile_model(model, 1e-3)
        time_steps(model, x, y, 2)  # build and trace
        models[name] = model
    seconds = dict.fromkeys(models, 0.0)
    for _ in range(args.rounds):
        for name, model in models.items():
            seconds[name] += time_steps(model, x, y, args.steps)
    images = args.rounds * args.steps * args.batch_size
    rate = {name: images / s for name, s in seconds.items()}
    print(f"{images} images per model")
    print(f"quantized k{args.k}B{args.B:g}: {rate['quantized']:.1f} images/s")
    print(f"fp32:          {rate['fp32']:.1f} images/s")
    print(f"ratio quantized/fp32: {rate['quantized'] / rate['fp32']:.3f}")
    if "quantized mixed_bfloat16" in rate:
        print(f"quantized mixed_bfloat16: {rate['quantized mixed_bfloat16']:.1f} images/s")
        print(f"ratio mixed_bfloat16/float32 (quantized): {rate['quantized mixed_bfloat16'] / rate['quantized']:.3f}")
    if "quantized native" in rate:
        print(f"quantized, native convolutions only: {rate['quantized native']:.1f} images/s")
        print(f"ratio quantized/native convolutions: {rate['quantized'] / rate['quantized native']:.3f}")


if __name__ == "__main__":
    run_main(main)
