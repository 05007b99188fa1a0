"""XLA's own cost estimate of one compiled training step (JAX), and the fastest epoch a GPU could run it at.

Why: a training step on a GPU is bounded by its arithmetic (FLOP / peak) or by its memory traffic (bytes / memory
bandwidth), whichever is larger; side-by-side runs and fewer host round trips cannot beat that bound. XLA reports
both for the program it compiled (``Compiled.cost_analysis()``: "flops" and "bytes accessed", summed over its
fusions). This script compiles Keras' own ``train_step`` of the VGG-Net (augmentation, loss, Adam update, metrics)
at batch ``--batch_size`` for each network and precision, and prints FLOP, bytes, their ratio (FLOP per byte) and
the bound on epochs/s for a GPU of ``--peak_tflops`` and ``--bandwidth_tbs`` (default: the vendor's figures for
one NVIDIA H200: 790 TFLOP/s dense bf16, 4.8 TB/s). The program is compiled for the machine that runs the script:
on a CPU, XLA fuses differently than for a GPU, so the bytes are an estimate of the same order, not the GPU's own.

    KERAS_BACKEND=jax python bench/step_cost.py [--configs k1B2,fp32 --precisions float32,mixed_bfloat16]
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._cli import positive_float, positive_int, run_main  # noqa: E402
from quant_snn.errors import UserError  # noqa: E402


def step_cost(config: str, precision: str, batch_size: int, dataset: str = "cifar10") -> dict:
    """FLOP and bytes XLA counts for one compiled training step of ``config`` at ``precision``."""
    import jax
    import numpy as np

    from quant_snn.datasets import dataset_spec
    from quant_snn.device_loop import train_state
    from quant_snn.names import parse_name
    from quant_snn.train import build_training_model, compile_model

    spec = dataset_spec(dataset)
    model, _ = build_training_model(spec.n_classes, parse_name(config).quant, seed=0, precision=precision,
                                    pixels=spec.pixels)
    compile_model(model, 1e-3)
    x = np.zeros((batch_size, *spec.pixels), np.float32)
    y = np.zeros(batch_size, np.int32)
    model._symbolic_build(data_batch=(x, y))  # keras.src, as Model.fit does before its first step
    model.optimizer.build(model.trainable_variables)
    compiled = jax.jit(model.train_step).lower(train_state(model), (x, y)).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return {"flops": float(cost["flops"]), "bytes": float(cost["bytes accessed"]),
            "fusions": compiled.as_text().count(" fusion(")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="k1B2,fp32", help="networks, e.g. k1B2,k0B1,fp32 (default k1B2,fp32)")
    parser.add_argument("--precisions", default="float32,mixed_bfloat16")
    parser.add_argument("--batch_size", type=positive_int, default=200)
    parser.add_argument("--train_images", type=positive_int, default=50_000, help="images in an epoch (CIFAR)")
    parser.add_argument("--peak_tflops", type=positive_float, default=790.0)
    parser.add_argument("--bandwidth_tbs", type=positive_float, default=4.8, help="memory bandwidth, TB/s")
    args = parser.parse_args(argv)
    from quant_snn.names import parse_name
    from quant_snn.precision import check_precision

    configs, precisions = args.configs.split(","), args.precisions.split(",")
    for config in configs:
        parse_name(config)
    for precision in precisions:
        check_precision(precision)
    import jax
    import keras

    if keras.backend.backend() != "jax":
        raise UserError("step_cost compiles with JAX: run it with KERAS_BACKEND=jax (this is "
                        f"{keras.backend.backend()})")
    print(f"jax {jax.__version__}, keras {keras.__version__}, compiled for {jax.devices()[0].device_kind} "
          f"({platform.machine()}), batch {args.batch_size}; bound for a GPU of {args.peak_tflops:g} TFLOP/s and "
          f"{args.bandwidth_tbs:g} TB/s")
    steps = math.ceil(args.train_images / args.batch_size)
    print("| network | precision | GFLOP / step | GB / step | FLOP / byte | fusions | ms / step at peak | ms / step at "
          "bandwidth | epochs/s at most |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for config in configs:
        for precision in precisions:
            cost = step_cost(config, precision, args.batch_size)
            compute_ms = cost["flops"] / (args.peak_tflops * 1e12) * 1e3
            memory_ms = cost["bytes"] / (args.bandwidth_tbs * 1e12) * 1e3
            print(f"| {config} | {precision} | {cost['flops'] / 1e9:.1f} | {cost['bytes'] / 1e9:.2f} | "
                  f"{cost['flops'] / cost['bytes']:.1f} | {cost['fusions']} | {compute_ms:.3f} | {memory_ms:.3f} | "
                  f"{1e3 / (steps * max(compute_ms, memory_ms)):.2f} |", flush=True)


if __name__ == "__main__":
    run_main(main)
