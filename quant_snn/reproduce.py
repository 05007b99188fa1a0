"""One command from a clean clone to the results table and the figures; rerun it to resume.

    python -m quant_snn.reproduce --dataset cifar10 --configs fp32,k0B1,k0B2,k1B2 --noise 0,0.1,0.2 --epochs 400

For each configuration it trains with the recipe's two phases (the first half of the epochs at lr 1e-3, the rest
at 1e-4, continuing from the checkpoint) or reuses a checkpoint that already has the epochs; then it runs the
spiking evaluation of every quantized configuration at every noise ratio, draws the figures and writes
``RESULTS_CIFAR10.md`` (``_CIFAR100``, ``_MNIST``) into ``runs/cifar10/`` (``--output_dir CIFAR10`` for the committed
one). Every step checks whether its result already exists, so an interrupted run resumes where it stopped and redoes
nothing finished.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .architecture import Architecture
from .atomic import atomic_write_text
from .cli import add_parallel_flags, add_recipe_flags, literal_bool, repo_root, run_cli
from .config import QuantConfig, RunFiles, dataset_spec, parse_tag
from .errors import UserError
from .paths import repo_relative
from .spiking_logs import STATS_VERSION, read_stats

REPO = repo_root(__file__)
DEFAULT_CONFIGS = "fp32,k0B1,k0B2,k1B2"
TRAINING_FLAGS = ("optimizer", "schedule", "learning_rate", "warmup_epochs", "weight_decay", "label_smoothing")


@dataclass
class ReproduceConfig:
    dataset: str = "cifar10"
    configs: list[str] = field(default_factory=lambda: DEFAULT_CONFIGS.split(","))
    noise: list[float] = field(default_factory=lambda: [0.0, 0.1, 0.2])
    epochs: int = 400
    data_dir: Path = REPO / "data"
    output_dir: Path | None = None
    batch_size: int | None = None  # default: the original's for the dataset (200 CIFAR, 128 MNIST)
    snn_batch_size: int | None = None  # default: the original's (50 CIFAR, 200 MNIST)
    seed: int = 0
    limit: int | None = None
    verbose: int = 2
    distribute: bool = False
    cpu_devices: int | None = None
    precision: str = "float32"
    recipe: str = "original"
    training: dict = field(default_factory=dict)  # flags given on the command line (None where left out)
    train_only: bool = False
    noise_configs: list[str] | None = None  # noisy SNN runs only for these (default: every quantized one)
    trained_on: str | None = None  # where training ran, when not on this machine (written into the results)
    arch: Architecture | None = None  # the network, None: the dataset's (tests run small variants)

    def __post_init__(self) -> None:
        from .recipes import expand_recipe

        spec = dataset_spec(self.dataset)
        self.arch = self.arch or spec.architecture
        self.batch_size = self.batch_size or spec.batch_size
        self.snn_batch_size = self.snn_batch_size or spec.snn_batch_size
        settings = expand_recipe(self.recipe, {**self.training, "epochs": None}, spec.network)
        settings.pop("epochs")
        self.settings = settings  # optimizer, schedule, learning_rate, warmup_epochs, weight_decay, label_smoothing
        self.quants = {tag: parse_tag(tag) for tag in self.configs}
        if not self.configs:
            raise UserError("--configs names no configuration (e.g. --configs fp32,k1B2)")
        if self.epochs < 1:
            raise UserError(f"--epochs must be at least 1, got {self.epochs}")
        if self.limit is not None and self.limit < 1:
            raise UserError(f"--limit must be at least 1, got {self.limit}")
        from .seeding import check_seed

        check_seed(self.seed)
        if any(not 0 <= p < 1 for p in self.noise):
            raise UserError("--noise ratios must be in [0, 1)")
        if 0 not in self.noise:
            raise UserError("--noise must include 0, the noiseless run that the table and the figures need "
                            "(e.g. --noise 0,0.1,0.2)")
        unknown = sorted(set(self.noise_configs or ()) - set(self.configs))
        if unknown:
            raise UserError(f"--noise_configs {','.join(unknown)} not among --configs {','.join(self.configs)}")
        # never the committed results by default: those are rewritten only when asked for (--output_dir CIFAR10)
        self.output_dir = Path(self.output_dir or REPO / "runs" / self.dataset)
        self.data_dir = Path(self.data_dir)

    def noise_for(self, tag: str) -> list[float]:
        """Noise ratios of the spiking runs of ``tag`` (always 0; the noisy ones if chosen for it)."""
        if self.noise_configs is None or tag in self.noise_configs:
            return self.noise
        return [p for p in self.noise if p == 0]

    @property
    def results_path(self) -> Path:
        return self.output_dir / f"RESULTS_{self.dataset.upper()}.md"


def run_config(cfg: ReproduceConfig, quant: QuantConfig, **kwargs):
    from .train import RunConfig

    settings = {**cfg.settings, **kwargs}
    return RunConfig(dataset=cfg.dataset, quant=quant, data_dir=cfg.data_dir, output_dir=cfg.output_dir,
                     batch_size=cfg.batch_size, seed=cfg.seed, verbose=cfg.verbose, distribute=cfg.distribute,
                     cpu_devices=cfg.cpu_devices, precision=cfg.precision, arch=cfg.arch, **settings)


def run_files(cfg: ReproduceConfig, quant: QuantConfig) -> RunFiles:
    """The files of one configuration's run in the output folder."""
    return RunFiles.of(cfg.output_dir, cfg.dataset, quant)


def finished_epochs(files: RunFiles) -> int:
    """Epochs already trained: the checkpoint's, or, where only the weights came back (a run on another machine),
    the npz's own record."""
    from .checkpoint import checkpoint_epoch
    from .weights import read_npz

    if files.checkpoint.is_file():
        return checkpoint_epoch(files.checkpoint)
    if files.npz.is_file():
        return read_npz(files.npz)[1].epochs or 0
    return 0


def train_recipe(cfg: ReproduceConfig, quant: QuantConfig, data, performed: list[str]) -> None:
    """Bring the configuration to ``cfg.epochs`` epochs. Constant schedule (the original recipe): for the VGG-Net
    phase 1 at the learning rate up to half, phase 2 at a tenth of it; for the LeNet one phase. Cosine / onecycle:
    one schedule over all the epochs."""
    from .recipes import original_phases
    from .train import train

    done = finished_epochs(run_files(cfg, quant))
    if done >= cfg.epochs:
        print(f"== train {quant.tag}: {done} epochs already trained, reused", flush=True)
        return
    if cfg.settings["schedule"] != "constant":
        print(f"== train {quant.tag}: epochs {done + 1}..{cfg.epochs}, "
              f"{run_config(cfg, quant, epochs=cfg.epochs).flags()}", flush=True)
        train(run_config(cfg, quant, resume=done > 0, epochs=cfg.epochs), data)
        performed.append(f"train {quant.tag} {done + 1}-{cfg.epochs}")
        return
    rate = cfg.settings["learning_rate"]
    phases = ((math.ceil(cfg.epochs / 2), rate), (cfg.epochs, rate / 10))
    if original_phases(cfg.arch.name) == 1:
        phases = ((cfg.epochs, rate),)
    for end, phase_rate in phases:
        if done < end:
            print(f"== train {quant.tag}: epochs {done + 1}..{end} at learning rate {phase_rate:g}", flush=True)
            train(run_config(cfg, quant, resume=done > 0, learning_rate=phase_rate, epochs=end - done), data)
            performed.append(f"train {quant.tag} {done + 1}-{end}")
            done = end


def spiking_config(cfg: ReproduceConfig, quant: QuantConfig, noise: float):
    from .spiking_eval import SpikingRunConfig

    return SpikingRunConfig(dataset=cfg.dataset, quant=quant, npz=run_files(cfg, quant).npz,
                            data_dir=cfg.data_dir, figs_dir=cfg.output_dir / "figs", batch_size=cfg.snn_batch_size,
                            noise_ratio=noise, seed=cfg.seed, limit=cfg.limit, arch=cfg.arch)


def spiking_is_current(cfg: ReproduceConfig, snn_cfg, npz_epochs: int, images: int) -> bool:
    """The logs came from this very npz (same bytes) with this run's settings."""
    from .weights import file_sha256

    stats = read_stats(snn_cfg.log_dir)
    if stats is None:
        return False
    c = stats["config"]
    recorded = (c.get("stats_version"), c["npz_epochs"], c.get("npz_sha256"), c["images"], c["time_steps"], c["seed"],
                c.get("noise_layers"))
    return recorded == (STATS_VERSION, npz_epochs, file_sha256(snn_cfg.npz), images, 1, cfg.seed, "first")


def run_all(cfg: ReproduceConfig) -> list[str]:
    """Every missing step, in order; returns what was done (empty when everything was already finished)."""
    from .data import load_dataset
    from .figures import FIGURES
    from .spiking_eval import run_spiking
    from .weights import read_npz

    spec = dataset_spec(cfg.dataset)
    data = load_dataset(spec, cfg.data_dir)
    performed: list[str] = []
    for quant in cfg.quants.values():
        train_recipe(cfg, quant, data, performed)
    if cfg.train_only:
        return performed
    images = len(data.x_test[: cfg.limit])
    for tag, quant in cfg.quants.items():
        if not quant.quantized:
            continue
        epochs = read_npz(run_files(cfg, quant).npz)[1].epochs
        for noise in cfg.noise_for(tag):
            snn_cfg = spiking_config(cfg, quant, noise)
            if spiking_is_current(cfg, snn_cfg, epochs, images):
                print(f"== spiking {tag} noise {noise:g}: done, kept {snn_cfg.log_dir}", flush=True)
                continue
            print(f"== spiking {tag} noise {noise:g}", flush=True)
            run_spiking(snn_cfg, data)
            performed.append(f"spiking {tag} noise {noise:g}")
    quantized = [tag for tag, q in cfg.quants.items() if q.quantized]
    figs_dir = cfg.output_dir / "figs"
    spiking_script = f"{spec.scripts}/Spiking_{spec.script_name}.py"
    for name, figure in FIGURES.items():
        if quantized and (name != "noise" or any(p > 0 for p in cfg.noise)):
            figure(figs_dir, quantized, spiking_script)
    write_results(cfg)
    return performed


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"


def data_source(cfg: ReproduceConfig) -> str:
    """The official archives extract with a file that the converted copies do not write (readme.html, file.txt~)."""
    if cfg.dataset == "mnist":
        return "the official MNIST files (md5 of each checked)"
    folder = cfg.data_dir / dataset_spec(cfg.dataset).folder
    marker = "readme.html" if cfg.dataset == "cifar10" else "file.txt~"
    if (folder / marker).is_file():
        return "the official archive"
    if cfg.dataset == "cifar10":
        return ("a converted copy, not the official archive (here: the official split, 59,799 of the 60,000 images "
                "with the official pixels and 201 from a JPEG copy, see README_VGG.md)")
    return "a converted copy, not the official archive (here: the lossless CIFAR-100 copy, see README_VGG.md)"


def schedule_text(training: dict | None, network: str = "vgg") -> str:
    """One cell saying how a configuration was trained (from the npz's own record)."""
    from .recipes import original_phases, recipe_for

    if training is None:
        return "not recorded"
    if training.get("schedule", "constant") == "constant":
        rate = float(recipe_for("original", network)["learning_rate"])

        def short(value: float) -> str:
            return f"{value:.0e}".replace("e-0", "e-")  # 1e-3

        steps = f"lr {short(rate)}, then {short(rate / 10)} from half-way" if original_phases(network) == 2 else \
            f"lr {short(rate)}"
        return f"{training.get('optimizer', 'adam')} constant (original recipe: {steps})"
    text = (f"{training['optimizer']} {training['schedule']} peak {training['learning_rate']:g}, "
            f"warm-up {training['warmup_epochs']:g}, {training['epochs']} epochs")
    if training.get("weight_decay"):
        text += f", wd {training['weight_decay']:g}"
    if training.get("label_smoothing"):
        text += f", ls {training['label_smoothing']:g}"
    return text


def provenance(cfg: ReproduceConfig) -> list[str]:
    import keras

    from .recipes import recipe_flags

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    command = (f"python -m quant_snn.reproduce --dataset {cfg.dataset} --configs {','.join(cfg.configs)} "
               + (f"--recipe {cfg.recipe} " if cfg.recipe != "original" else "")
               + f"--noise {','.join(f'{p:g}' for p in cfg.noise)} --epochs {cfg.epochs}"
               + (f" --noise_configs {','.join(cfg.noise_configs)}" if cfg.noise_configs is not None else "")
               + (f" --limit {cfg.limit}" if cfg.limit else ""))
    if cfg.settings["schedule"] == "constant":
        schedule = (f"the first {math.ceil(cfg.epochs / 2)} epochs at lr {cfg.settings['learning_rate']:g}, the rest "
                    f"at a tenth of it ({recipe_flags(cfg.settings)})")
    else:
        schedule = f"recipe {cfg.recipe}: {recipe_flags({**cfg.settings, 'epochs': cfg.epochs})}"
    return [
        f"- command: `{command}`",
        f"- code: commit {commit}; Keras {keras.__version__} on the {keras.backend.backend()} backend, "
        f"Python {platform.python_version()}",
        f"- data: `{repo_relative(cfg.data_dir)}`, {data_source(cfg)}",
        f"- machine (spiking runs, and training unless said below): {platform.machine()}, {os.cpu_count()} CPUs; "
        f"date {datetime.date.today().isoformat()}",
    ] + ([f"- training ran on: {cfg.trained_on}"] if cfg.trained_on else []) + [
        f"- schedule: {schedule}; batch {cfg.batch_size}; seed {cfg.seed}. Weights that already had the epochs were "
        "reused as they were (the table's schedule column is each npz's own record).",
    ]


def write_results(cfg: ReproduceConfig) -> None:
    from .paper import PAPER_ANN, PAPER_EPOCHS, PAPER_NOISE, paper_snn
    from .weights import read_npz

    noisy = [p for p in cfg.noise if p > 0]
    header = ["configuration", "schedule", "epochs", "ANN", "SNN", "time steps", "SNN/ANN differing images",
              "spikes / image", "SOPs / image"] + [f"SNN {p:g} noise" for p in noisy] + ["paper ANN", "paper SNN"] + [
              f"paper SNN {p:g} noise" for p in noisy]
    rows = []
    for tag, quant in cfg.quants.items():
        info = read_npz(run_files(cfg, quant).npz)[1]
        clean = read_stats(spiking_config(cfg, quant, 0.0).log_dir) if quant.quantized else None
        noise_acc = [read_stats(spiking_config(cfg, quant, p).log_dir) if quant.quantized and p in cfg.noise_for(tag)
                     else None for p in noisy]
        images = clean["config"]["images"] if clean else None
        rows.append([
            tag, schedule_text(info.training, cfg.arch.name), str(info.epochs),
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
    spec = dataset_spec(cfg.dataset)
    lines = [f"# Results: {spec.architecture.title} on {spec.title}", "",
             "Written by `quant_snn.reproduce` from this repository's own runs; the `paper` columns are the "
             f"original publication's figures ({PAPER_EPOCHS[cfg.dataset]} epochs on the official images), not ours.",
             ""]
    lines += provenance(cfg) + [""]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "ANN: the quantized (or FP32) network's test accuracy from the same npz the SNN was converted from, "
              "the quantized one deciding in float64 (the float32 ANN's accuracy and differing images are in each "
              "figs/*/stats.json); SNN: one time step; SOPs in the original's accounting (see README_VGG.md).", ""]
    figures = [name for name in ("accuracy", "sparsity", "sops", "firing_rates", "noise")
               if (cfg.output_dir / "figs" / f"{name}.png").is_file()]
    lines += [f"![{name}](figs/{name}.png)" for name in figures]
    atomic_write_text(cfg.results_path, "\n".join(lines) + "\n")
    print(f"wrote {cfg.results_path}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quant_snn.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("cifar10", "cifar100", "mnist"), default="cifar10")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help=f"comma-separated (default {DEFAULT_CONFIGS})")
    parser.add_argument("--noise", default="0,0.1,0.2", help="noise ratios for the SNN runs (default 0,0.1,0.2)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="total epochs per configuration (default: the recipe's; original: 400 for the VGG-Net, "
                             "200 for the LeNet)")
    parser.add_argument("--data_dir", type=Path, default=REPO / "data")
    parser.add_argument("--output_dir", type=Path, default=None,
                        help="default: runs/<dataset>/ (git-ignored); "
                             "--output_dir CIFAR10 rewrites the committed table")
    parser.add_argument("--batch_size", type=int, default=None, help="default: the original's (200; MNIST 128)")
    parser.add_argument("--snn_batch_size", type=int, default=None, help="default: the original's (50; MNIST 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="spiking runs on the first LIMIT test images only")
    parser.add_argument("--noise_configs", default=None,
                        help="comma-separated configurations that get the noisy SNN runs (default: all quantized)")
    parser.add_argument("--trained_on", default=None,
                        help="where the reused weights were trained, when not here (a line in the results file)")
    parser.add_argument("--train_only", type=literal_bool, default=False, help="stop after training (True/False)")
    add_parallel_flags(parser)
    add_recipe_flags(parser, init=False)
    parser.add_argument("--learning_rate", type=float, default=None,
                        help="learning rate (original: 0.001 for the first half, a tenth after; else the peak)")
    args = parser.parse_args(argv)

    def run() -> None:
        try:
            noise = [float(p) for p in args.noise.split(",") if p.strip()]
        except ValueError:
            raise UserError(f"--noise takes comma-separated numbers, got {args.noise!r}") from None
        from .recipes import original_phases, recipe_for

        given = {key: getattr(args, key) for key in TRAINING_FLAGS}
        network = dataset_spec(args.dataset).network
        epochs = int(recipe_for(args.recipe, network)["epochs"])
        if args.recipe == "original":
            epochs *= original_phases(network)
        epochs = args.epochs if args.epochs is not None else epochs
        cfg = ReproduceConfig(
            dataset=args.dataset, configs=[c.strip() for c in args.configs.split(",") if c.strip()], noise=noise,
            epochs=epochs, recipe=args.recipe, training=given, train_only=args.train_only,
            noise_configs=None if args.noise_configs is None else [
                c.strip() for c in args.noise_configs.split(",") if c.strip()],
            trained_on=args.trained_on, data_dir=args.data_dir, output_dir=args.output_dir, batch_size=args.batch_size,
            snn_batch_size=args.snn_batch_size, seed=args.seed, limit=args.limit, distribute=args.distribute,
            cpu_devices=args.cpu_devices, precision=args.precision,
        )
        if args.cpu_devices:
            from .distribute import request_cpu_devices

            request_cpu_devices(args.cpu_devices)  # before Keras imports JAX
        performed = run_all(cfg)
        print("done: " + ("; ".join(performed) if performed else "nothing left to do"))

    return run_cli(run, "interrupted: finished steps are kept; run the same command again to resume")


if __name__ == "__main__":
    from .quiet import quiet_native_logs

    quiet_native_logs()
    sys.exit(main())
