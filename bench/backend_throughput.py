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

BENCH = Path(__file__).resolve().parent / "train_throughput.py"
RATE = re.compile(r"^(quantized k\S+|fp32|quantized mixed_bfloat16):\s+([\d.]+) images/s", re.M)


def measure(backend: str, extra: list[str]) -> tuple[str, dict[str, float]]:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, str(BENCH), *extra], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{backend}: train_throughput.py failed:\n{result.stderr[-2000:]}")
    rates = {("quantized" if name.startswith("quantized k") else name): float(value)
             for name, value in RATE.findall(result.stdout)}
    return result.stdout.splitlines()[0], rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    args, extra = parser.parse_known_args()
    extra = [a for a in extra if a != "--"]
    results = {}
    for backend in args.backends.split(","):
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
    main()
