"""A whole results table trained on a GPU machine that takes a few calls: stage, train side by side, bring back.

Such a machine (see README_VGG.md, "A GPU") takes at most 64 MiB per call, the working tree included, runs a call for
at most 10 minutes, keeps its git-ignored files only while it is held, and has JAX but neither TensorFlow nor Keras.
``bash bench/gpu_table.sh STEP`` (which installs the Keras wheels of ``make gpu-prep`` there first) runs:

  here:  stage   --dataset D --bundle B   cut the lossless WebP bundle B (about 106 MB) into parts that fit beside the
                                          working tree in a call, and print the calls to make
  there: receive                          call 1 .. n-1: keep the carried part in .stage/kept/
  there: train   --dataset D ...          the last part's call and every later one: keep the part, decode the bundle
                                          into data/ once complete (bench/cifar_from_webp.py), then train every network
                                          of the table side by side, each resuming from its checkpoint in runs/table/
                                          (left there by an earlier call on the same machine), until --deadline; then
                                          write the histories, logs, weights (deflated npz with SHA256SUMS: publishing
                                          one here gives the published bytes) and summary.json into $OUT/<dataset>/,
                                          at most 64 MiB
  here:  check                            every step above on this CPU through scratch folders, with a tiny synthetic
                                          bundle, two calls of training (the second resuming), the size limits enforced

Each network is ``python -m quant_snn reproduce --configs <config>_<recipe> --train_only True`` in its own folder, so
the recipes (the original's two phases too) and resuming are the training scripts' own. ``summary.json`` reports per
network the epochs done and its last test accuracy, and for the call the training images/s, epoch-runs/s, model
TFLOP/s (6 x the forward pass's multiply-accumulates per image) and their fraction of the H200's ~790 TFLOP/s of dense
bf16 matrix arithmetic, and the first epoch's seconds (compilation included).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import gpu_stage  # noqa: E402
from bench._cli import positive_float, positive_int, run_main  # noqa: E402
from quant_snn.datasets import DATASETS, dataset_spec  # noqa: E402
from quant_snn.errors import UserError  # noqa: E402

CALL_LIMIT = 64 * 2**20  # bytes one call carries each way, the working tree included
MARGIN = 2**20  # left free in every call (git metadata, rounding)
PEAK_TFLOPS = 790.0  # dense bf16 matrix arithmetic an H200 sustains (the fraction reported is of this)
TABLE = ("fp32", "k0B1", "k0B2", "k0B4", "k1B1", "k1B2", "k1B4")  # the paper's rows
WORK = Path("runs/table")  # on the machine: checkpoints stay here between calls
STAGE, KEPT = Path(".stage/parts"), Path(".stage/kept")


def travelling_bytes(root: Path = REPO) -> int:
    """What every call carries whatever else it does: the tracked files and the untracked ones git does not
    ignore."""
    try:
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, check=True,
                                capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise UserError(f"cannot list the working tree with git ({exc}): stage from a git checkout") from None
    return sum((root / name).stat().st_size for name in listed.decode().split("\0") if name
               and (root / name).is_file())


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def stage(dataset: str, bundle: Path, stage_dir: Path, part_mib: float | None = None) -> list[Path]:
    """Cut ``bundle`` into parts that fit a call beside the working tree (and, in the first call, the wheels in
    .gpu/); print the calls to make."""
    tree, wheels = travelling_bytes(), folder_bytes(REPO / ".gpu") if (REPO / ".gpu").is_dir() else 0
    room = CALL_LIMIT - MARGIN - tree - wheels
    if room < 2**20:
        raise UserError(f"the working tree ({tree / 2**20:.1f} MiB) and .gpu/ ({wheels / 2**20:.1f} MiB) leave no "
                        "room for data in a 64 MiB call")
    part_mib = room / 2**20 if part_mib is None else part_mib
    if part_mib * 2**20 > room:
        raise UserError(f"--part_mib {part_mib:g} does not fit: a call has {room / 2**20:.1f} MiB left beside the "
                        "working tree and .gpu/")
    folders = gpu_stage.pack(dataset, REPO / "data", stage_dir, part_mib, bundle)
    print(f"every call carries the working tree: {tree / 2**20:.1f} MiB; .gpu/ (first call): {wheels / 2**20:.1f} "
          f"MiB; room for data: {room / 2**20:.1f} MiB a call -> {len(folders)} calls to stage {dataset}:")
    for i, folder in enumerate(folders):
        carry = [str(folder.relative_to(REPO)) if folder.is_relative_to(REPO) else str(folder)]
        carry += [".gpu"] if i == 0 and wheels else []
        step = "receive" if i < len(folders) - 1 else f"train --dataset {dataset}"
        print(f"  call {i + 1}: carry {carry}, command: bash bench/gpu_table.sh {step}")
    print(f"  then, while the machine is held: bash bench/gpu_table.sh train --dataset {dataset} (resumes)")
    return folders


def receive(root: Path) -> bool:
    """Keep what this call carried; whether every part is there (or there is nothing to stage)."""
    if (root / STAGE).is_dir():
        gpu_stage.receive(root / STAGE, root / KEPT)
    return (root / KEPT / gpu_stage.MANIFEST).is_file() and not gpu_stage.missing_parts(root / KEPT)


def ensure_data(root: Path, dataset: str) -> Path:
    data = root / "data"
    if (data / dataset_spec(dataset).folder).is_dir():
        return data
    if not receive(root):
        raise UserError(f"{data / dataset_spec(dataset).folder} is missing and the staged parts are not complete: "
                        "carry the remaining parts first")
    manifest = gpu_stage.read_manifest(root / KEPT / gpu_stage.MANIFEST)
    if manifest["dataset"] != dataset:
        raise UserError(f"the staged parts hold {manifest['dataset']}, not {dataset}")
    gpu_stage.unpack(root / KEPT, data)
    return data


def network_names(configs: str, recipe: str) -> list[str]:
    from quant_snn.names import parse_name
    from quant_snn.recipes import recipe_for

    recipe_for(recipe)
    names = [f"{c}_{recipe}" for c in configs.split(",") if c]
    for name in names:
        parse_name(name)
    if not names or len(set(names)) != len(names):
        raise UserError(f"--configs {configs!r}: name each configuration once")
    return names


def layout(work: Path, dataset: str, name: str):
    from quant_snn.layout import RunLayout
    from quant_snn.names import parse_name

    network = parse_name(name)
    return RunLayout.of(work / name, dataset, network.quant, network.label)


def history_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def launch(name: str, args: argparse.Namespace, work: Path, data: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "quant_snn", "reproduce", "--dataset", args.dataset, "--configs", name,
            "--noise", "0", "--train_only", "True", "--recipe", args.recipe, "--output_dir", str(work / name),
            "--data_dir", str(data), "--precision", args.precision,
            "--steps_per_execution", str(args.steps_per_execution), "--loop", args.loop]
    argv += ["--epochs", str(args.epochs)] if args.epochs else []
    (work / name).mkdir(parents=True, exist_ok=True)
    with open(work / name / "training_log.txt", "a") as log:  # the child keeps its own handle
        log.write(f"\n[{time.strftime('%Y-%m-%d %H:%M:%S')}] {' '.join(argv[1:])}\n")
        log.flush()
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)


def stop(procs: dict[str, subprocess.Popen], names: list[str]) -> None:
    for name in names:
        if procs[name].poll() is None:
            os.killpg(procs[name].pid, signal.SIGTERM)
    for name in names:
        try:
            procs[name].wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(procs[name].pid, signal.SIGKILL)
            procs[name].wait()


def mtime(path: Path) -> int | None:
    return path.stat().st_mtime_ns if path.is_file() else None


def train_side_by_side(args: argparse.Namespace, root: Path, names: list[str], data: Path, started: float) -> dict:
    """Every network in its own process until each finishes, has trained ``--epochs_per_call`` epochs in this
    call, or the deadline comes."""
    from quant_snn.checkpoint import checkpoint_epoch

    work = root / WORK / args.dataset
    checkpoints = {n: layout(work, args.dataset, n).checkpoint for n in names}
    before = {n: checkpoint_epoch(path) for n, path in checkpoints.items()}
    seen = {n: mtime(path) for n, path in checkpoints.items()}
    procs = {n: launch(n, args, work, data) for n in names}
    stopped: dict[str, str] = {}
    while len(stopped) < len(procs):
        time.sleep(1)
        for name, proc in procs.items():
            if name in stopped:
                continue
            if proc.poll() is not None:
                stopped[name] = "finished" if proc.returncode == 0 else f"failed (exit status {proc.returncode})"
                continue
            changed = args.epochs_per_call and mtime(checkpoints[name]) != seen[name]
            seen[name] = mtime(checkpoints[name])  # a checkpoint is read only when it was replaced: it is ~60 MB
            if changed and checkpoint_epoch(checkpoints[name]) >= before[name] + args.epochs_per_call:
                stop(procs, [name])
                stopped[name] = f"stopped after {args.epochs_per_call} epochs (--epochs_per_call)"
        if time.time() - started > args.deadline:
            late = [n for n in procs if n not in stopped]
            stop(procs, late)
            stopped.update(dict.fromkeys(late, "stopped by the deadline"))
    return {"before": before, "ended": stopped, "seconds": time.time() - started}


def throughput(dataset: str, train_images: int, rows_this_call: dict[str, list[dict]], wall: float) -> dict:
    """Images/s, epoch-runs/s and model TFLOP/s of this call: over the epochs after each network's first one in
    the call (steady), and the first epochs' seconds (compilation included)."""
    spec = dataset_spec(dataset)
    flop = 6 * sum(spec.architecture.ann_macs(spec.n_classes))
    steady = [statistics.median(float(r["seconds"]) for r in rows[1:]) for rows in rows_this_call.values()
              if len(rows) > 1]
    epochs = sum(len(rows) for rows in rows_this_call.values())
    report = {"epochs_trained": epochs, "seconds": round(wall, 1), "flop_per_training_image": flop,
              "first_epoch_seconds": [round(float(rows[0]["seconds"]), 1) for rows in rows_this_call.values()
                                      if rows]}
    if steady:
        runs_per_second = sum(1 / s for s in steady)  # the networks still training side by side at once
        images = runs_per_second * train_images
        report.update({"steady_epoch_runs_per_second": round(runs_per_second, 3),
                       "steady_images_per_second": round(images, 1),
                       "steady_tflops": round(images * flop / 1e12, 2),
                       "fraction_of_790_tflops": round(images * flop / 1e12 / PEAK_TFLOPS, 4)})
    return report


def collect(args: argparse.Namespace, root: Path, names: list[str], out: Path, report: dict) -> Path:
    """Histories, logs, compressed weights with SHA256SUMS and summary.json into ``out/<dataset>/``, at most 64
    MiB (if all would not fit, the largest weights stay on the machine, said in the summary: nothing is lost to a
    late error)."""
    from quant_snn.publish import compress_npz, record_sum
    from quant_snn.weights import file_sha256

    work, target = root / WORK / args.dataset, out / args.dataset
    for sub in ("weights", "histories", "logs"):
        (target / sub).mkdir(parents=True)
    networks, rows_this_call = {}, {}
    for name in names:
        files = layout(work, args.dataset, name)
        rows = history_rows(files.history)
        rows_this_call[name] = rows[report["before"][name]:]
        if files.history.is_file():
            shutil.copyfile(files.history, target / "histories" / f"{name}.csv")
        if (work / name / "training_log.txt").is_file():
            shutil.copyfile(work / name / "training_log.txt", target / "logs" / f"{name}.txt")
        digest = None
        if files.npz.is_file():
            digest = compress_npz(files.npz, target / "weights" / files.npz.name, level=6)  # publish: level 9
        networks[name] = {"epochs": len(rows), "test_accuracy": float(rows[-1]["test_accuracy"]) if rows else None,
                          "this_call": report["ended"][name], "npz_sha256": digest}
    summary = {"dataset": args.dataset, "recipe": args.recipe, "precision": args.precision,
               "loop": args.loop, "steps_per_execution": args.steps_per_execution,
               "epochs": args.epochs, "networks": networks,
               "call": throughput(args.dataset, report["train_images"], rows_this_call, report["seconds"])}
    weights = sorted((target / "weights").glob("*.npz"), key=lambda p: p.stat().st_size)
    while folder_bytes(out) + 2**16 > CALL_LIMIT - MARGIN and weights:  # 64 KiB for summary.json
        left = weights.pop()  # the largest stays on the machine (runs/table/), said in the summary
        left.unlink()
        networks[next(n for n in names if left.name.endswith(f"_{n}.npz"))]["npz_sha256"] = "left on the machine"
    for path in weights:
        record_sum(target / "weights", path.name, file_sha256(path))
    (target / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    size = folder_bytes(out)
    print(json.dumps(summary, indent=1))
    print(f"{target}: {size / 2**20:.1f} MiB to bring back")
    return target


def train(args: argparse.Namespace, root: Path, out: Path) -> Path:
    from quant_snn.data import load_dataset

    started = time.time()
    names = network_names(args.configs, args.recipe)
    if (out / args.dataset).exists() or (out.exists() and not out.is_dir()):
        raise UserError(f"--out {out} already holds {args.dataset}/ (or is not a folder): name an empty folder")
    data = ensure_data(root, args.dataset)
    train_images = len(load_dataset(dataset_spec(args.dataset), data).x_train)
    report = {**train_side_by_side(args, root, names, data, started), "train_images": train_images}
    return collect(args, root, names, out, report)


def check(args: argparse.Namespace) -> None:
    """The calls of a real table, on this CPU: a tiny bundle staged in three parts, one call per part (the last
    one trains one epoch of each network), a second training call that resumes and finishes, the limits checked."""
    import numpy as np

    from bench.cifar_from_webp import write_bundle
    from quant_snn.weights import file_sha256, read_npz

    spec = dataset_spec(args.dataset)
    rng = np.random.default_rng(0)
    per_split = {"train": 10 * len(spec.train_files) if args.dataset == "cifar10" else 40, "test": 20}
    with tempfile.TemporaryDirectory() as scratch:
        scratch, machine = Path(scratch), Path(scratch) / "machine"
        bundle = write_bundle(scratch / "bundle.npz", args.dataset, {
            split: (rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), rng.integers(0, spec.n_classes, size=n))
            for split, n in per_split.items()})
        folders = stage(args.dataset, bundle, scratch / "here", bundle.stat().st_size / 2.5 / 2**20)
        for i, folder in enumerate(folders):  # a call carries its part (and the tree, checked by stage)
            shutil.rmtree(machine / STAGE, ignore_errors=True)
            shutil.copytree(folder, machine / STAGE / folder.name)
            if i < len(folders) - 1:
                receive(machine)
        first = train(argparse.Namespace(**{**vars(args), "epochs_per_call": 1}), machine, scratch / "out1")
        final = train(argparse.Namespace(**{**vars(args), "epochs_per_call": None}), machine, scratch / "out2")
        summary = json.loads((final / "summary.json").read_text())
        bad = [n for n, net in summary["networks"].items() if net["epochs"] != args.epochs
               or [int(r["epoch"]) for r in history_rows(final / "histories" / f"{n}.csv")] != list(
                   range(1, args.epochs + 1)) or not net["this_call"].startswith("finished")]
        first_epochs = {n: net["epochs"] for n, net in json.loads((first / "summary.json").read_text())[
            "networks"].items()}
        for name in summary["networks"]:
            path = next((final / "weights").glob(f"*_{name}.npz"))
            read_npz(path)
            if summary["networks"][name]["npz_sha256"] != file_sha256(path):
                bad.append(name)
        if bad or set(first_epochs.values()) != {1}:
            raise UserError(f"check failed: {bad or first_epochs}")
    print(f"check: {len(folders)} staging calls, then two training calls ({', '.join(summary['networks'])}: one "
          f"epoch, then resumed to {args.epochs}); every history, weights file and size limit as expected")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("stage", "receive", "train", "check"))
    parser.add_argument("--dataset", choices=tuple(d for d in DATASETS if DATASETS[d].file_format == "cifar"),
                        default="cifar100")
    parser.add_argument("--bundle", type=Path, help="stage: the lossless WebP bundle of --dataset")
    parser.add_argument("--part_mib", type=positive_float, default=None,
                        help="stage: largest part (default: all the room a call leaves)")
    parser.add_argument("--configs", default=",".join(TABLE), help=f"default {','.join(TABLE)}")
    parser.add_argument("--recipe", default="fast60", help="the training scripts' --recipe (default fast60)")
    parser.add_argument("--epochs", type=positive_int, default=None, help="override the recipe's epochs")
    parser.add_argument("--precision", default=None,
                        help="training precision (default: train mixed_bfloat16, check float32)")
    parser.add_argument("--loop", choices=("fit", "device"), default=None,
                        help="the training scripts' --loop (default: device on JAX, as on a GPU machine; else fit)")
    parser.add_argument("--steps_per_execution", type=positive_int, default=250,
                        help="training steps per call (default 250: a CIFAR epoch at batch 200, with --loop device "
                             "one compiled scan an epoch)")
    parser.add_argument("--deadline", type=positive_float, default=480,
                        help="train: seconds from the call's start after which every run is stopped (default 480)")
    parser.add_argument("--epochs_per_call", type=positive_int, default=None,
                        help="train: stop each network after this many epochs in this call")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "runs/table_out")),
                        help="train: where the results go (default $OUT)")
    args = parser.parse_args(argv)
    args.precision = args.precision or ("float32" if args.step == "check" else "mixed_bfloat16")
    if args.step in ("train", "check"):
        import keras

        from quant_snn.device_loop import check_loop
        from quant_snn.precision import check_precision

        check_precision(args.precision)
        args.loop = args.loop or ("device" if keras.backend.backend() == "jax" else "fit")
        check_loop(args.loop)
    if args.step == "stage":
        if args.bundle is None:
            raise UserError("stage needs --bundle: the lossless WebP bundle of the dataset")
        stage(args.dataset, args.bundle, REPO / STAGE, args.part_mib)
    elif args.step == "receive":
        receive(REPO)
    elif args.step == "train":
        train(args, REPO, args.out)
    else:
        if args.epochs is None:
            args.recipe, args.epochs = "original", 2  # two phases of one epoch each: the second call resumes
        network_names(args.configs, args.recipe)
        check(args)
    return 0


if __name__ == "__main__":
    run_main(main)
