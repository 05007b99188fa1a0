"""bench/train_throughput.py on each Keras backend, one after the other in one run, with the ratios to TensorFlow.

Each backend runs in its own process (a process holds one backend); they run back to back on the same machine, so
run it on a quiet one. Extra arguments go to train_throughput.py.

    python bench/backend_throughput.py [--backends tensorflow,jax,torch] [-- --batch_size 200 --steps 5]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._cli import run_main  # noqa: E402
from quant_snn.errors import UserError  # noqa: E402

BENCH = Path(__file__).resolve().parent / "train_throughput.py"
BACKENDS = ("tensorflow", "jax", "torch")
RATE = re.compile(r"^(quantized k\S+|fp32|quantized mixed_bfloat16):\s+([\d.]+) images/s", re.M)


def measure(backend: str, extra: list[str]) -> tuple[str, dict[str, float]]:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, str(BENCH), *extra], env=env, capture_output=True, text=True)
    if result.returncode != 0:  # bad flags fail in the first backend's run, seconds in; its last line says why
        last = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        raise UserError(f"{backend}: train_throughput.py failed: {last}")
    rates = {("quantized" if name.startswith("quantized k") else name): float(value)
             for name, value in RATE.findall(result.stdout)}
    if "quantized" not in rates or "fp32" not in rates:
        raise UserError(f"{backend}: train_throughput.py printed no quantized and fp32 rates")
    return result.stdout.splitlines()[0], rates


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated, of " + ", ".join(BACKENDS))
    args, extra = parser.parse_known_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not backends or any(b not in BACKENDS for b in backends):
        raise UserError(f"--backends takes comma-separated names of {', '.join(BACKENDS)}, got {args.backends!r}")
    extra = [a for a in extra if a != "--"]
    results = {}
    for backend in backends:
        header, rates = measure(backend, extra)
        print(header, flush=True)
        results[backend] = rates
    names = ["quantized", "fp32", "quantized mixed_bfloat16"]
    print("\n| backend | " + " | ".join(f"{n} images/s" for n in names) + " | quantized/fp32 | mixed/float32 |")
    print("| --- " * (len(names) + 3) + "|")
    for backend, rates in results.items():
        cells = [f"{rates[n]:.1f}" if n in rates else "" for n in names]
        q_fp = rates["quantized"] / rates["fp32"]
        mixed = f"{rates[names[2]] / rates['quantized']:.3f}" if names[2] in rates else ""
        print(f"| {backend} | " + " | ".join(cells) + f" | {q_fp:.3f} | {mixed} |")
    base = results.get("tensorflow")
    if base:
        for backend, rates in results.items():
            if backend != "tensorflow":
                print(f"{backend}/tensorflow, quantized float32 training: {rates['quantized'] / base['quantized']:.3f}")


if __name__ == "__main__":
    run_main(main)
