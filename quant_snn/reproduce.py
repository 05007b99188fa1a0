"""One command from a clean clone to the results table and the figures; rerun it to resume.

    python -m quant_snn.reproduce --dataset cifar10 --configs fp32,k0B1,k0B2,k1B2 --noise 0,0.1,0.2 --epochs 400

For each configuration it trains with the recipe's two phases (the first half of the epochs at lr 1e-3, the rest
at 1e-4, continuing from the checkpoint) or reuses a checkpoint that already has the epochs; then it runs the
spiking evaluation of every quantized configuration at every noise ratio, draws the figures and writes
``RESULTS_CIFAR10.md`` (or ``_CIFAR100``) beside the dataset's scripts. Every step checks whether its result
already exists, so an interrupted run resumes where it stopped and redoes nothing finished.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .cli import add_parallel_flags, repo_root, run_cli
from .config import QuantConfig, dataset_spec, parse_tag
from .errors import UserError

REPO = repo_root(__file__)
DEFAULT_CONFIGS = "fp32,k0B1,k0B2,k1B2"
PHASE_RATES = (1e-3, 1e-4)


def dataset_folder(dataset: str) -> str:
    return "CIFAR10" if dataset == "cifar10" else "CIFAR100"


@dataclass
class ReproduceConfig:
    dataset: str = "cifar10"
    configs: list[str] = field(default_factory=lambda: DEFAULT_CONFIGS.split(","))
    noise: list[float] = field(default_factory=lambda: [0.0, 0.1, 0.2])
    epochs: int = 400
    data_dir: Path = REPO / "data"
    output_dir: Path | None = None
    batch_size: int = 200
    snn_batch_size: int = 50
    seed: int = 0
    limit: int | None = None
    verbose: int = 2
    distribute: bool = False
    cpu_devices: int | None = None
    precision: str = "float32"

    def __post_init__(self) -> None:
        dataset_spec(self.dataset)
        self.quants = {tag: parse_tag(tag) for tag in self.configs}
        if self.epochs < 1:
            raise UserError(f"--epochs must be at least 1, got {self.epochs}")
        if any(not 0 <= p < 1 for p in self.noise):
            raise UserError("--noise ratios must be in [0, 1)")
        self.output_dir = Path(self.output_dir or REPO / dataset_folder(self.dataset))
        self.data_dir = Path(self.data_dir)

    @property
    def results_path(self) -> Path:
        return self.output_dir / f"RESULTS_{dataset_folder(self.dataset)}.md"


def run_config(cfg: ReproduceConfig, quant: QuantConfig, **kwargs):
    from .train import RunConfig

    return RunConfig(dataset=cfg.dataset, quant=quant, data_dir=cfg.data_dir, output_dir=cfg.output_dir,
                     batch_size=cfg.batch_size, seed=cfg.seed, verbose=cfg.verbose, distribute=cfg.distribute,
                     cpu_devices=cfg.cpu_devices, precision=cfg.precision, **kwargs)


def train_recipe(cfg: ReproduceConfig, quant: QuantConfig, data, performed: list[str]) -> None:
    """Bring the configuration to ``cfg.epochs`` epochs: phase 1 at lr 1e-3 up to half, phase 2 at 1e-4."""
    from .checkpoint import checkpoint_epoch
    from .train import train

    boundary = math.ceil(cfg.epochs / 2)
    done = checkpoint_epoch(run_config(cfg, quant).checkpoint_path)
    if done >= cfg.epochs:
        print(f"== train {quant.tag}: checkpoint has {done} epochs, reused", flush=True)
    for end, rate in ((boundary, PHASE_RATES[0]), (cfg.epochs, PHASE_RATES[1])):
        if done < end:
            print(f"== train {quant.tag}: epochs {done + 1}..{end} at learning rate {rate:g}", flush=True)
            train(run_config(cfg, quant, resume=done > 0, learning_rate=rate, epochs=end - done), data)
            performed.append(f"train {quant.tag} {done + 1}-{end}")
            done = end


def spiking_config(cfg: ReproduceConfig, quant: QuantConfig, noise: float):
    from .spiking_eval import SpikingRunConfig

    return SpikingRunConfig(dataset=cfg.dataset, quant=quant, npz=run_config(cfg, quant).npz_path,
                            data_dir=cfg.data_dir, figs_dir=cfg.output_dir / "figs", batch_size=cfg.snn_batch_size,
                            noise_ratio=noise, seed=cfg.seed, limit=cfg.limit)


def load_stats(log_dir: Path) -> dict | None:
    path = log_dir / "stats.json"
    return json.loads(path.read_text()) if path.is_file() else None


def spiking_is_current(cfg: ReproduceConfig, snn_cfg, npz_epochs: int, images: int) -> bool:
    stats = load_stats(snn_cfg.log_dir)
    if stats is None:
        return False
    c = stats["config"]
    return (c["npz_epochs"], c["images"], c["time_steps"], c["seed"], c["noise_layers"]) == (
        npz_epochs, images, 1, cfg.seed, "first")


def run_all(cfg: ReproduceConfig) -> list[str]:
    """Every missing step, in order; returns what was done (empty when everything was already finished)."""
    from .data import load_cifar
    from .figures import FIGURES
    from .spiking_eval import run_spiking
    from .weights import read_npz

    data = load_cifar(dataset_spec(cfg.dataset), cfg.data_dir)
    performed: list[str] = []
    for quant in cfg.quants.values():
        train_recipe(cfg, quant, data, performed)
    images = len(data.x_test[: cfg.limit])
    for tag, quant in cfg.quants.items():
        if not quant.quantized:
            continue
        epochs = read_npz(run_config(cfg, quant).npz_path)[1].epochs
        for noise in cfg.noise:
            snn_cfg = spiking_config(cfg, quant, noise)
            if spiking_is_current(cfg, snn_cfg, epochs, images):
                print(f"== spiking {tag} noise {noise:g}: done, kept {snn_cfg.log_dir}", flush=True)
                continue
            print(f"== spiking {tag} noise {noise:g}", flush=True)
            run_spiking(snn_cfg)
            performed.append(f"spiking {tag} noise {noise:g}")
    quantized = [tag for tag, q in cfg.quants.items() if q.quantized]
    figs_dir = cfg.output_dir / "figs"
    spiking_script = f"{dataset_folder(cfg.dataset)}/Spiking_VGG_{dataset_folder(cfg.dataset)}.py"
    for name, figure in FIGURES.items():
        if quantized and (name != "noise" or any(p > 0 for p in cfg.noise)):
            figure(figs_dir, quantized, spiking_script)
    write_results(cfg)
    return performed


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"


def provenance(cfg: ReproduceConfig) -> list[str]:
    import keras

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    command = (f"python -m quant_snn.reproduce --dataset {cfg.dataset} --configs {','.join(cfg.configs)} "
               f"--noise {','.join(f'{p:g}' for p in cfg.noise)} --epochs {cfg.epochs}"
               + (f" --limit {cfg.limit}" if cfg.limit else ""))
    return [
        f"- command: `{command}`",
        f"- code: commit {commit}; Keras {keras.__version__} on the {keras.backend.backend()} backend, "
        f"Python {platform.python_version()}",
        f"- data: `{cfg.data_dir}`",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPUs; date {datetime.date.today().isoformat()}",
        f"- schedule: the first {math.ceil(cfg.epochs / 2)} epochs at lr 1e-3, the rest at 1e-4; batch "
        f"{cfg.batch_size}; seed {cfg.seed}. A checkpoint that already had the epochs was reused as it was "
        "(its epochs are in the table).",
    ]


def write_results(cfg: ReproduceConfig) -> None:
    from .paper import PAPER_ANN, PAPER_NOISE, paper_snn
    from .weights import read_npz

    noisy = [p for p in cfg.noise if p > 0]
    header = ["configuration", "epochs", "ANN", "SNN", "time steps", "SNN/ANN differing images", "spikes / image",
              "SOPs / image"] + [f"SNN {p:g} noise" for p in noisy] + ["paper ANN", "paper SNN"] + [
              f"paper SNN {p:g} noise" for p in noisy]
    rows = []
    for tag, quant in cfg.quants.items():
        info = read_npz(run_config(cfg, quant).npz_path)[1]
        clean = load_stats(spiking_config(cfg, quant, 0.0).log_dir) if quant.quantized else None
        noise_acc = [load_stats(spiking_config(cfg, quant, p).log_dir) if quant.quantized else None for p in noisy]
        images = clean["config"]["images"] if clean else None
        rows.append([
            tag, str(info.epochs),
            _pct(clean["ann_accuracy"] if clean else info.test_accuracy),
            _pct(clean["snn_accuracy"]) if clean else "n/a",
            "1" if clean else "",
            f"{clean['differing_images']} of {images}" if clean else "",
            f"{clean['spikes_per_image']:.3g}" if clean else "",
            f"{clean['sops_per_image']:.3g}" if clean else "",
        ] + [_pct(s["snn_accuracy"]) if s else "" for s in noise_acc] + [
            f"{PAPER_ANN[cfg.dataset][tag]:.2f}%" if tag in PAPER_ANN[cfg.dataset] else "",
            "" if paper_snn(cfg.dataset, tag) is None else f"{paper_snn(cfg.dataset, tag):.2f}%",
        ] + [f"{PAPER_NOISE[cfg.dataset][(tag, p)]:.2f}%" if (tag, p) in PAPER_NOISE[cfg.dataset] else ""
             for p in noisy])
    lines = [f"# Results: {dataset_folder(cfg.dataset).replace('CIFAR', 'CIFAR-')}", "",
             "Written by `quant_snn.reproduce` from this repository's own runs; the `paper` columns are the "
             "original publication's figures (400 epochs on the official images), not ours.", ""]
    lines += provenance(cfg) + [""]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "ANN: the quantized (or FP32) network's test accuracy from the same npz the SNN was converted from; "
              "SNN: one time step; SOPs in the original's accounting (see README_VGG.md).", ""]
    figures = [name for name in ("accuracy", "sparsity", "sops", "firing_rates", "noise")
               if (cfg.output_dir / "figs" / f"{name}.png").is_file()]
    lines += [f"![{name}](figs/{name}.png)" for name in figures]
    tmp = cfg.results_path.with_name(cfg.results_path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, cfg.results_path)
    print(f"wrote {cfg.results_path}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quant_snn.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("cifar10", "cifar100"), default="cifar10")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help=f"comma-separated (default {DEFAULT_CONFIGS})")
    parser.add_argument("--noise", default="0,0.1,0.2", help="noise ratios for the SNN runs (default 0,0.1,0.2)")
    parser.add_argument("--epochs", type=int, default=400, help="total epochs per configuration (default 400)")
    parser.add_argument("--data_dir", type=Path, default=REPO / "data")
    parser.add_argument("--output_dir", type=Path, default=None, help="default: the dataset folder (CIFAR10/)")
    parser.add_argument("--batch_size", type=int, default=200)
    parser.add_argument("--snn_batch_size", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="spiking runs on the first LIMIT test images only")
    add_parallel_flags(parser)
    args = parser.parse_args(argv)

    def run() -> None:
        try:
            noise = [float(p) for p in args.noise.split(",") if p.strip()]
        except ValueError:
            raise UserError(f"--noise takes comma-separated numbers, got {args.noise!r}") from None
        cfg = ReproduceConfig(
            dataset=args.dataset, configs=[c.strip() for c in args.configs.split(",") if c.strip()], noise=noise,
            epochs=args.epochs, data_dir=args.data_dir, output_dir=args.output_dir, batch_size=args.batch_size,
            snn_batch_size=args.snn_batch_size, seed=args.seed, limit=args.limit, distribute=args.distribute,
            cpu_devices=args.cpu_devices, precision=args.precision,
        )
        if args.cpu_devices:
            from .distribute import request_cpu_devices

            request_cpu_devices(args.cpu_devices)  # before Keras imports JAX
        performed = run_all(cfg)
        print("done: " + ("; ".join(performed) if performed else "nothing left to do"))

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
