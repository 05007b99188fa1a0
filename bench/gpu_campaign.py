"""Many CIFAR-10 trainings sharing one GPU inside a fixed time box (a lent GPU machine gives about 10 minutes).

Three groups run as concurrent processes (one small VGG leaves most of a modern GPU idle):
  1. the original recipe for k1B2 (``quant_snn.reproduce``: lr 1e-3 then 1e-4), for as many of its epochs as fit;
  2. candidate fast recipes for k1B2 (``--recipe`` flags compared at the same epoch budget);
  3. once every candidate has finished, the best one (highest final test accuracy) for every other configuration
     of the paper's table.
At the deadline whatever still runs is stopped; every finished epoch is already in its history CSV and npz. The
weights, histories and logs (no checkpoints) are packed into ``OUT/gpu_results.tgz`` split into 15 MiB parts.

    python bench/gpu_campaign.py --deadline 480 --epochs 40     (bench/gpu_campaign.sh sets up the machine)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CANDIDATES = {
    "adam_cosine": "--optimizer adam --schedule cosine --learning_rate 0.002 --warmup_epochs 2 --label_smoothing 0.1",
    "adam_cosine_wd": "--optimizer adam --schedule cosine --learning_rate 0.002 --warmup_epochs 2 "
                      "--label_smoothing 0.1 --weight_decay 0.05",
    "adam_onecycle": "--optimizer adam --schedule onecycle --learning_rate 0.003 --warmup_epochs 6 "
                     "--label_smoothing 0.1",
    "sgd_onecycle": "--optimizer sgd --schedule onecycle --learning_rate 0.1 --warmup_epochs 6 "
                    "--label_smoothing 0.1 --weight_decay 0.005",
    "sgd_cosine": "--optimizer sgd --schedule cosine --learning_rate 0.05 --warmup_epochs 2 "
                  "--label_smoothing 0.1 --weight_decay 0.005",
}
OTHER_CONFIGS = ("fp32", "k0B1", "k0B2", "k0B4", "k1B1", "k1B4")


def script_args(tag: str) -> list[str]:
    if tag == "fp32":
        return [str(REPO / "CIFAR10/FP32_VGG_CIFAR10.py")]
    k, B = tag[1:].split("B")
    return [str(REPO / "CIFAR10/Quant_VGG_CIFAR10.py"), "--k", k, "--B", B]


def launch(name: str, argv: list[str], work: Path) -> subprocess.Popen:
    log = open(work / f"log_{name}.txt", "w")
    print(f"[{time.strftime('%H:%M:%S')}] start {name}: {' '.join(argv)}", flush=True)
    return subprocess.Popen([sys.executable, *argv], stdout=log, stderr=subprocess.STDOUT, cwd=REPO)


def final_accuracy(history: Path) -> tuple[int, float]:
    if not history.is_file():
        return 0, -1.0
    rows = list(csv.DictReader(open(history)))
    return (int(rows[-1]["epoch"]), float(rows[-1]["test_accuracy"])) if rows else (0, -1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", type=float, default=480, help="seconds from start until everything stops")
    parser.add_argument("--epochs", type=int, default=40, help="epochs of each fast-recipe run")
    parser.add_argument("--original_epochs", type=int, default=400)
    parser.add_argument("--work", type=Path, default=Path("/dev/shm/campaign"))
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "runs/gpu")))
    parser.add_argument("--precision", default="mixed_bfloat16")
    parser.add_argument("--data_dir", type=Path, default=REPO / "data")
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    args = parser.parse_args()
    start = time.time()
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    common = ["--verbose", "2", "--precision", args.precision, "--data_dir", str(args.data_dir)]
    procs: dict[str, subprocess.Popen] = {}
    procs["original_k1B2"] = launch("original_k1B2", [
        "-m", "quant_snn.reproduce", "--configs", "k1B2", "--noise", "0", "--epochs", str(args.original_epochs),
        "--output_dir", str(args.work / "original"), "--precision", args.precision, "--train_only", "True", "--data_dir", str(args.data_dir)],
        args.work)
    chosen = [c for c in args.candidates.split(",") if c]
    for name in chosen:
        out = args.work / name
        procs[name] = launch(name, script_args("k1B2") + CANDIDATES[name].split() + [
            "--epochs", str(args.epochs), "--output_dir", str(out)] + common, args.work)
    stage2 = False
    summary: dict[str, object] = {"candidates": {}, "best": None}
    while time.time() - start < args.deadline:
        time.sleep(5)
        if not stage2 and all(procs[n].poll() is not None for n in chosen):
            scores = {n: final_accuracy(args.work / n / "history_model_cifar_10_k1B2.csv") for n in chosen}
            summary["candidates"] = {n: {"epochs": e, "test_accuracy": a, "flags": CANDIDATES[n]}
                                     for n, (e, a) in scores.items()}
            best = max(chosen, key=lambda n: (scores[n][0] >= args.epochs, scores[n][1]))
            summary["best"] = best
            print(f"[{time.strftime('%H:%M:%S')}] candidates {scores}; best {best}", flush=True)
            for tag in OTHER_CONFIGS:
                procs[f"{best}_{tag}"] = launch(f"{best}_{tag}", script_args(tag) + CANDIDATES[best].split() + [
                    "--epochs", str(args.epochs), "--output_dir", str(args.work / f"{best}_{tag}")] + common,
                    args.work)
            stage2 = True
        if all(p.poll() is not None for p in procs.values()):
            break
    for name, p in procs.items():
        if p.poll() is None:
            print(f"[{time.strftime('%H:%M:%S')}] deadline: stopping {name}", flush=True)
            p.terminate()
    for p in procs.values():
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
    summary["returncodes"] = {n: p.returncode for n, p in procs.items()}
    summary["seconds"] = round(time.time() - start, 1)
    (args.work / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1), flush=True)
    files = [str(p.relative_to(args.work)) for p in sorted(args.work.rglob("*"))
             if p.is_file() and not p.name.startswith("checkpoint_") and not p.name.endswith(".tmp")]
    subprocess.run(f"tar czf - {' '.join(files)} | split -b 15M - {args.out}/gpu_results.tgz.part-",
                   shell=True, cwd=args.work, check=True)


if __name__ == "__main__":
    main()
