"""One npz, the same spikes everywhere: spiking runs on real test images on every backend and batch size, compared.

For every network (npz), every variant (TensorFlow with and without XLA, JAX, PyTorch) and every batch size, runs
``Spiking_VGG_<dataset>.py`` in its own process (a process holds one backend) on the whole test set, then checks:

- the per-batch accuracy, spike and SOP logs of every variant equal TensorFlow+XLA's at the same batch size;
- the logs at every batch size equal the per-image logs of batch size 1 summed over the same images;
- SNN = ANN deciding in float64 on every image of every run (``differing_images`` 0).

Prints a markdown table (one row per network and variant) and exits 1 on any difference. Finished runs are kept
under ``--out`` and reused when the script is run again with the same npz files (and the same log format).

    python bench/spike_agreement.py --npz runs/a_k0B1.npz runs/b_k1B2.npz runs/c_k1B4.npz [--data_dir data]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._cli import positive_int, positive_int_list, run_main  # noqa: E402
from quant_snn.datasets import dataset_spec  # noqa: E402
from quant_snn.errors import UserError  # noqa: E402
from quant_snn.spiking_logs import LOG_NAMES, STATS_VERSION, read_stats  # noqa: E402
from quant_snn.weights import file_sha256, read_npz  # noqa: E402

# variant name -> (KERAS_BACKEND, --xla)
VARIANTS = {"tensorflow+xla": ("tensorflow", True), "tensorflow": ("tensorflow", False), "jax": ("jax", True),
            "torch": ("torch", True)}
REFERENCE = "tensorflow+xla"


def run_dir(out: Path, npz: Path, variant: str, batch: int) -> Path:
    return out / f"{npz.stem}-{file_sha256(npz)[:8]}" / variant / f"batch{batch}"


def thread_env(threads: int) -> dict[str, str]:
    """Cap each run's compute threads. Processes that each spin a thread per core wait on each other: on 2 cores
    shared with a training run, PyTorch at batch 1 took 61 s for 30 images with 2 threads and 16 s with 1."""
    env = {"OMP_NUM_THREADS": str(threads), "TF_NUM_INTRAOP_THREADS": str(threads),
           "TF_NUM_INTEROP_THREADS": str(threads)}
    if threads == 1:
        env["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
    return env


def spiking_run(dataset: str, npz: Path, tag: str, variant: str, batch: int, folder: Path, args) -> dict:
    """One spiking run (reused when its stats.json exists in the current format); returns its stats and logs."""
    log_dir = folder / tag
    stats = read_stats(log_dir)
    if stats is None or stats.config.stats_version != STATS_VERSION:
        backend, xla = VARIANTS[variant]
        spec = dataset_spec(dataset)
        script = ROOT / spec.scripts / f"Spiking_{spec.script_name}.py"
        k, B = tag[1:].split("B")
        command = [sys.executable, str(script), "--npz", str(npz), "--k", k, "--B", B, "--batch_size", str(batch),
                   "--data_dir", str(args.data_dir), "--figs_dir", str(folder), "--xla", str(xla)]
        if args.limit:
            command += ["--limit", str(args.limit)]
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", **thread_env(args.threads)}
        start = time.perf_counter()
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode != 0:  # one line here; all the run said is kept beside its logs
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "stderr.txt").write_text(result.stderr)
            last = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
            raise UserError(f"{variant} batch {batch} {npz}: failed: {last} (all of it: {folder / 'stderr.txt'})")
        print(f"  {npz.name} {variant:15s} batch {batch:4d}: {time.perf_counter() - start:6.1f} s", flush=True)
    logs = {name: [int(v) for v in (log_dir / f"{name}.txt").read_text().split()] for name in LOG_NAMES}
    return {"stats": read_stats(log_dir), "logs": logs}


def regroup(per_image: list[int], batch: int) -> list[int]:
    return [sum(per_image[i : i + batch]) for i in range(0, len(per_image), batch)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npz", type=Path, nargs="+", required=True, help="trained weights files (with metadata)")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--data_dir", type=Path, default=ROOT / "data")
    parser.add_argument("--batch_sizes", type=positive_int_list, default=[1, 50, 500])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="only the first LIMIT test images (quick check)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "spike_agreement")
    parser.add_argument("--jobs", type=positive_int, default=2,
                        help="runs side by side (batch-1 runs spend most of their time in one Python thread)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="compute threads per run (default: CPUs divided by --jobs, at least 1); sets the "
                             "thread counts of PyTorch and TensorFlow, and at 1 turns off XLA's multi-threaded Eigen "
                             "(JAX has no other thread setting)")
    args = parser.parse_args(argv)
    args.threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} is not a folder")
    dataset_spec(args.dataset)
    batches = sorted(set(args.batch_sizes))
    variants = [v for v in args.variants.split(",")]
    if REFERENCE not in variants or any(v not in VARIANTS for v in variants):
        raise UserError(f"--variants: a subset of {','.join(VARIANTS)} that includes {REFERENCE}")
    import keras

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"keras {keras.__version__}; {args.dataset} test set from {args.data_dir}; {args.jobs} runs at a time, "
          f"{args.threads} threads each")
    infos = {npz: read_npz(npz)[1] for npz in args.npz}
    for npz, info in infos.items():
        if info.quant is None or not info.quant.quantized:
            raise UserError(f"{npz}: needs a quantized npz with metadata (k, B)")
    keys = [(npz, v, b) for b in reversed(batches) for npz in args.npz for v in variants]  # batch 1 (slowest) last
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        done = dict(zip(keys, pool.map(lambda key: spiking_run(
            args.dataset, key[0], infos[key[0]].quant.tag, key[1], key[2], run_dir(args.out, *key), args), keys)))
    rows, failures = [], []
    for npz, info in infos.items():
        tag = info.quant.tag
        runs = {(v, b): done[(npz, v, b)] for b in batches for v in variants}
        reference = runs[(REFERENCE, batches[0])]
        per_image = reference["logs"] if batches[0] == 1 else None
        for (variant, batch), run in runs.items():
            stats, logs = run["stats"], run["logs"]
            where = f"{npz.name} {tag} {variant} batch {batch}"
            if stats.differing_images != 0:
                failures.append(f"{where}: {stats.differing_images} images differ from the float64 ANN")
            same = runs[(REFERENCE, batch)]["logs"]
            for name in LOG_NAMES:
                if logs[name] != same[name]:
                    bad = sum(a != b for a, b in zip(logs[name], same[name]))
                    failures.append(f"{where}: {name} differs from {REFERENCE} in {bad} of {len(same[name])} batches")
                if per_image is not None and logs[name] != regroup(per_image[name], batch):
                    failures.append(f"{where}: {name} differs from the per-image (batch 1) log summed per batch")
        for variant in variants:
            first = runs[(variant, batches[0])]["stats"]
            rows.append((npz.name, tag, info.epochs, variant, first.config.images, first.snn_accuracy,
                         first.ann_accuracy, first.spikes_per_image, first.sops_per_image,
                         max(runs[(variant, b)]["stats"].differing_images for b in batches),
                         " / ".join(f"{runs[(variant, b)]['stats'].images_per_second:.0f}" for b in batches)))
    print(f"\n| npz | config | epochs | variant | images | SNN accuracy | float64 ANN accuracy | spikes / image "
          f"| SOPs / image | differing images | images/s at batch {' / '.join(map(str, batches))} |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, tag, epochs, variant, images, snn, ann, spikes, sops, differing, rates in rows:
        print(f"| {name} | {tag} | {epochs} | {variant} | {images} | {100 * snn:.2f}% | {100 * ann:.2f}% | "
              f"{spikes:,.1f} | {sops:.6e} | {differing} | {rates} |")
    print(f"\nlogs compared: {len(args.npz)} networks x {len(variants)} variants x {len(batches)} batch sizes; "
          + ("0 differences in any accuracy, spike or SOP log; SNN = float64 ANN on every image" if not failures
             else f"{len(failures)} DIFFERENCES:\n" + "\n".join(failures)))
    (args.out / "summary.json").write_text(json.dumps({"rows": rows, "failures": failures}, indent=1) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    run_main(main)
