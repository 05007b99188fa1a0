"""Many CIFAR-10 trainings sharing one GPU until a fixed deadline (``--deadline``, e.g. 10 minutes).

Three groups run as concurrent processes (one small VGG leaves most of a modern GPU idle):
  1. the original recipe for k1B2 (``quant_snn.reproduce``: lr 1e-3 then 1e-4), for as many of its epochs as fit;
  2. candidate fast recipes (``CANDIDATES``: flags compared at the same epoch budget; a candidate may start from
     the weights another one wrote, e.g. FP32 pre-training, and then starts when that one has finished);
  3. once every candidate has finished, the best one (highest final test accuracy) for every other configuration
     of the paper's table.
``--original_epochs 0`` and ``--other_configs ''`` leave out groups 1 and 3.
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
sys.path.insert(0, str(REPO))  # quant_snn, for the file names

from bench._cli import non_negative_int, positive_float, positive_int, run_main  # noqa: E402
from quant_snn.errors import UserError  # noqa: E402
from quant_snn.quant_config import parse_tag  # noqa: E402

FAST = "--optimizer adam --schedule cosine --learning_rate 0.002 --warmup_epochs 2 --label_smoothing 0.1"
# name -> (configuration, flags, the candidate whose npz it starts from or None). "{work}" is the work folder; a
# candidate with a prerequisite starts when that one has finished. Flags may set --epochs (default --epochs).
CANDIDATES: dict[str, tuple[str, str, str | None]] = {
    "adam_cosine": ("k1B2", FAST, None),
    "adam_cosine_wd": ("k1B2", FAST + " --weight_decay 0.05", None),
    "adam_onecycle": ("k1B2", "--optimizer adam --schedule onecycle --learning_rate 0.003 --warmup_epochs 6 "
                              "--label_smoothing 0.1", None),
    "sgd_onecycle": ("k1B2", "--optimizer sgd --schedule onecycle --learning_rate 0.1 --warmup_epochs 6 "
                             "--label_smoothing 0.1 --weight_decay 0.005", None),
    "sgd_cosine": ("k1B2", "--optimizer sgd --schedule cosine --learning_rate 0.05 --warmup_epochs 2 "
                           "--label_smoothing 0.1 --weight_decay 0.005", None),
    "adam_cosine_seed1": ("k1B2", FAST + " --seed 1", None),
    "adam_cosine_seed2": ("k1B2", FAST + " --seed 2", None),
    "adam_cosine_3e3_w4": ("k1B2", FAST.replace("0.002", "0.003").replace("--warmup_epochs 2", "--warmup_epochs 4"),
                           None),
    # 60 epochs: one cosine over all of them, or --recipe fast60 (fast, then a 20-epoch warm restart at half the peak)
    "adam_cosine_60": ("k1B2", FAST + " --epochs 60", None),
    "fast60": ("k1B2", FAST + " --epochs 60 --restart_epoch 40 --restart_learning_rate 0.001", None),
    # FP32 for 20 epochs, then k1B2 from its weights: 40 epochs in all, or 60.
    "pre_fp32_20": ("fp32", FAST + " --epochs 20", None),
    "init_fp32_20": ("k1B2", FAST + " --epochs 20 --init_npz {work}/pre_fp32_20/model_cifar_10_fp32.npz",
                     "pre_fp32_20"),
    "init_fp32_20_40": ("k1B2", FAST + " --epochs 40 --init_npz {work}/pre_fp32_20/model_cifar_10_fp32.npz",
                        "pre_fp32_20"),
}
DEFAULT_CANDIDATES = "adam_cosine,adam_cosine_wd,adam_onecycle,sgd_onecycle,sgd_cosine"
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


def history_of(name: str, work: Path) -> Path:
    from quant_snn.layout import RunLayout

    return RunLayout.of(work / name, "cifar10", parse_tag(CANDIDATES[name][0])).history


def candidate_argv(name: str, args: argparse.Namespace, common: list[str]) -> list[str]:
    tag, flags, _ = CANDIDATES[name]
    flags = flags.format(work=args.work)
    epochs = [] if "--epochs" in flags.split() else ["--epochs", str(args.epochs)]
    return script_args(tag) + flags.split() + epochs + ["--output_dir", str(args.work / name)] + common


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", type=positive_float, default=480, help="seconds from start until all stops")
    parser.add_argument("--epochs", type=positive_int, default=40, help="epochs of each fast-recipe run")
    parser.add_argument("--original_epochs", type=non_negative_int, default=400, help="0: no original-recipe run")
    parser.add_argument("--work", type=Path, default=Path("/dev/shm/campaign"))
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "runs/gpu")))
    parser.add_argument("--precision", default="mixed_bfloat16")
    parser.add_argument("--data_dir", type=Path, default=REPO / "data")
    parser.add_argument("--candidates", default=DEFAULT_CANDIDATES, help=f"comma-separated, of {', '.join(CANDIDATES)}")
    parser.add_argument("--other_configs", default=",".join(OTHER_CONFIGS),
                        help="configurations trained with the best k1B2 candidate afterwards ('' for none)")
    args = parser.parse_args(argv)
    chosen = [c for c in args.candidates.split(",") if c]
    unknown = [c for c in chosen if c not in CANDIDATES]
    missing = [CANDIDATES[c][2] for c in chosen if c in CANDIDATES and CANDIDATES[c][2] not in (None, *chosen)]
    if unknown or missing:
        raise UserError(f"unknown candidates {unknown} or prerequisites not chosen {missing}")
    for tag in [c for c in args.other_configs.split(",") if c]:
        parse_tag(tag)  # an unknown configuration fails here, not in a run launched minutes later
    for flag, folder in (("--work", args.work), ("--out", args.out)):
        if folder.exists() and not folder.is_dir():
            raise UserError(f"{flag} {folder} is not a folder")
    start = time.time()
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    common = ["--verbose", "2", "--precision", args.precision, "--data_dir", str(args.data_dir)]
    procs: dict[str, subprocess.Popen] = {}
    if args.original_epochs > 0:
        procs["original_k1B2"] = launch("original_k1B2", [
            "-m", "quant_snn", "reproduce", "--configs", "k1B2", "--noise", "0", "--epochs", str(args.original_epochs),
            "--output_dir", str(args.work / "original"), "--precision", args.precision, "--train_only", "True",
            "--data_dir", str(args.data_dir)], args.work)
    waiting = list(chosen)
    stage2 = not [c for c in args.other_configs.split(",") if c]
    summary: dict[str, object] = {"candidates": {}, "best": None}
    while time.time() - start < args.deadline:
        for name in list(waiting):
            after = CANDIDATES[name][2]
            if after is None or (after in procs and procs[after].poll() is not None):
                waiting.remove(name)
                procs[name] = launch(name, candidate_argv(name, args, common), args.work)
        time.sleep(5)
        finished = not waiting and all(procs[n].poll() is not None for n in chosen)
        if finished and not summary["candidates"]:
            scores = {n: final_accuracy(history_of(n, args.work)) for n in chosen}
            summary["candidates"] = {n: {"configuration": CANDIDATES[n][0], "epochs": e, "test_accuracy": a,
                                         "flags": CANDIDATES[n][1]} for n, (e, a) in scores.items()}
            k1b2 = [n for n in chosen if CANDIDATES[n][0] == "k1B2"]
            summary["best"] = best = max(k1b2, key=lambda n: scores[n][1]) if k1b2 else None
            print(f"[{time.strftime('%H:%M:%S')}] candidates {scores}; best {best}", flush=True)
        if finished and not stage2 and summary["best"]:
            best = summary["best"]
            for tag in [c for c in args.other_configs.split(",") if c]:
                CANDIDATES[f"{best}_{tag}"] = (tag, CANDIDATES[best][1], None)
                procs[f"{best}_{tag}"] = launch(f"{best}_{tag}", candidate_argv(f"{best}_{tag}", args, common),
                                                args.work)
            stage2 = True
        if not waiting and all(p.poll() is not None for p in procs.values()):
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
    run_main(main)
