"""One command from a clean clone to the results table and the figures; rerun it to resume.

    python -m quant_snn reproduce --dataset cifar10 --configs fp32,k0B1,k0B2,k1B2 --noise 0,0.1,0.2 --epochs 400

For each configuration it trains with the recipe's two phases (the first half of the epochs at lr 1e-3, the rest
at 1e-4, continuing from the checkpoint) or reuses a checkpoint that already has the epochs; then it runs the
spiking evaluation of every quantized configuration at every noise ratio, draws the figures and writes
``RESULTS_CIFAR10.md`` (``_CIFAR100``, ``_MNIST``) into ``runs/cifar10/`` (``--output_dir CIFAR10`` for the committed
one). Every step checks whether its result already exists, so an interrupted run resumes where it stopped and redoes
nothing finished.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .architecture import Architecture
from .atomic import atomic_write_text
from .datasets import DEFAULT_NOISE, DEFAULT_TABLE, dataset_spec
from .errors import UserError
from .flag_checks import check_noise_ratio
from .layout import RunLayout, results_file, spiking_script
from .names import NetworkName, parse_name
from .paths import REPO
from .spiking_logs import STATS_VERSION, read_stats


@dataclass
class ReproduceConfig:
    dataset: str = "cifar10"
    configs: list[str] = field(default_factory=lambda: list(DEFAULT_TABLE))
    noise: list[float] = field(default_factory=lambda: list(DEFAULT_NOISE))
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
    trained_on: list[str] = field(default_factory=list)  # where training ran: "TEXT" (every row) or "NAME=TEXT"
    weights: Path | None = None  # take the networks from this folder (else from output_dir) and train nothing
    arch: Architecture | None = None  # the network, None: the dataset's (tests run small variants)

    def __post_init__(self) -> None:
        from .recipes import expand_recipe

        spec = dataset_spec(self.dataset)
        self.arch = self.arch or spec.architecture
        self.batch_size = self.batch_size or spec.batch_size
        self.snn_batch_size = self.snn_batch_size or spec.snn_batch_size
        settings = expand_recipe(self.recipe, {**self.training, "epochs": None}, spec.network)
        settings.pop("epochs")
        self.settings = settings  # optimizer, schedule, learning_rate, warmup_epochs, weight_decay, label_smoothing,
        # and restart_epoch, restart_learning_rate where the recipe or the flags set them
        self.networks = {name: parse_name(name) for name in self.configs}
        if not self.configs:
            raise UserError("--configs names no configuration (e.g. --configs fp32,k1B2)")
        if self.epochs < 1:
            raise UserError(f"--epochs must be at least 1, got {self.epochs}")
        if self.limit is not None and self.limit < 1:
            raise UserError(f"--limit must be at least 1, got {self.limit}")
        from .seeding import check_seed

        check_seed(self.seed)
        for ratio in self.noise:
            check_noise_ratio(ratio, "--noise ratios")
        if 0 not in self.noise:
            raise UserError("--noise must include 0, the noiseless run that the table and the figures need "
                            "(e.g. --noise 0,0.1,0.2)")
        unknown = sorted(set(self.noise_configs or ()) - set(self.configs))
        if unknown:
            raise UserError(f"--noise_configs {','.join(unknown)} not among --configs {','.join(self.configs)}")
        # never the committed results by default: those are rewritten only when asked for (--output_dir CIFAR10)
        self.output_dir = Path(self.output_dir or REPO / "runs" / self.dataset)
        self.data_dir = Path(self.data_dir)
        self.trained_where = parse_trained_on(self.trained_on, self.configs)
        if self.weights is not None:
            self.weights = Path(self.weights)
            if not self.weights.is_dir():
                raise UserError(f"--weights {self.weights}: no such folder")
            if self.train_only:
                raise UserError("--weights trains nothing: --train_only True has nothing to do")

    def noise_for(self, name: str) -> list[float]:
        """Noise ratios of the spiking runs of the network ``name`` (always 0; the noisy ones if chosen for it)."""
        if self.noise_configs is None or name in self.noise_configs:
            return self.noise
        return [p for p in self.noise if p == 0]

    @property
    def results_path(self) -> Path:
        return results_file(self.output_dir, dataset_spec(self.dataset))


def parse_trained_on(entries: Sequence[str], names: Sequence[str]) -> dict[str | None, str]:
    """``--trained_on`` entries, each ``NAME=TEXT`` (the row of the network NAME, one of ``names``) or ``TEXT``
    (every other row), as a dict keyed by network name (None: every other row)."""
    where: dict[str | None, str] = {}
    for entry in entries:
        name, sep, text = entry.partition("=")
        key = name.strip() if sep and name.strip() in names else None
        text = (text if key is not None else entry).strip()
        if not text:
            raise UserError(f"--trained_on {entry!r} says nothing about where the network was trained")
        if key in where:
            raise UserError(f"--trained_on given twice for {key or 'every row'}")
        where[key] = text
    return where


def run_config(cfg: ReproduceConfig, network: NetworkName, **kwargs):
    from .train import RunConfig

    settings = {**cfg.settings, **kwargs}
    return RunConfig(dataset=cfg.dataset, quant=network.quant, data_dir=cfg.data_dir, output_dir=cfg.output_dir,
                     batch_size=cfg.batch_size, seed=cfg.seed, verbose=cfg.verbose, distribute=cfg.distribute,
                     cpu_devices=cfg.cpu_devices, precision=cfg.precision, arch=cfg.arch, label=network.label,
                     **settings)


def run_files(cfg: ReproduceConfig, network: NetworkName) -> RunLayout:
    """The files of one network: in ``--weights`` when it holds the network's npz, else in the output folder (where
    training writes them)."""
    if cfg.weights is not None:
        given = RunLayout.of(cfg.weights, cfg.dataset, network.quant, network.label)
        if given.npz.is_file():
            return given
    return RunLayout.of(cfg.output_dir, cfg.dataset, network.quant, network.label)


def finished_epochs(files: RunLayout) -> int:
    """Epochs already trained: the checkpoint's, or, where only the weights came back (a run on another machine),
    the npz's own record."""
    from .checkpoint import checkpoint_epoch
    from .weights import read_npz

    if files.checkpoint.is_file():
        return checkpoint_epoch(files.checkpoint)
    if files.npz.is_file():
        return read_npz(files.npz)[1].epochs or 0
    return 0


def train_recipe(cfg: ReproduceConfig, network: NetworkName, data, performed: list[str]) -> None:
    """Bring the network to ``cfg.epochs`` epochs. Constant schedule (the original recipe): for the VGG-Net
    phase 1 at the learning rate up to half, phase 2 at a tenth of it; for the LeNet one phase. Cosine / onecycle:
    one schedule over all the epochs."""
    from .recipes import original_phases
    from .train import train

    files = run_files(cfg, network)
    done = finished_epochs(files)
    if done >= cfg.epochs:
        print(f"== train {network}: {done} epochs already trained, reused", flush=True)
        return
    if cfg.settings["schedule"] != "constant":
        if done and not files.checkpoint.is_file():
            raise UserError(f"{files.npz} holds {done} epochs but no checkpoint lies beside it: a schedule cannot "
                            f"continue from weights alone (no optimizer state or step count); bring its checkpoint, "
                            "or train anew in another --output_dir")
        print(f"== train {network}: epochs {done + 1}..{cfg.epochs}, "
              f"{run_config(cfg, network, epochs=cfg.epochs).flags()}", flush=True)
        train(run_config(cfg, network, resume=done > 0, epochs=cfg.epochs), data)
        performed.append(f"train {network} {done + 1}-{cfg.epochs}")
        return
    rate = cfg.settings["learning_rate"]
    phases = ((math.ceil(cfg.epochs / 2), rate), (cfg.epochs, rate / 10))
    if original_phases(cfg.arch.name) == 1:
        phases = ((cfg.epochs, rate),)
    for end, phase_rate in phases:
        if done < end:
            print(f"== train {network}: epochs {done + 1}..{end} at learning rate {phase_rate:g}", flush=True)
            train(run_config(cfg, network, resume=done > 0, learning_rate=phase_rate, epochs=end - done), data)
            performed.append(f"train {network} {done + 1}-{end}")
            done = end


def check_weights(cfg: ReproduceConfig) -> None:
    """With ``--weights`` nothing is trained: every network's npz must be there (or in the output folder) before
    any spiking run starts."""
    missing = [run_files(cfg, network).npz.name for network in cfg.networks.values()
               if not run_files(cfg, network).npz.is_file()]
    if missing:
        raise UserError(f"--weights {cfg.weights}: no {', '.join(missing)} there nor in --output_dir "
                        f"{cfg.output_dir} (without --weights, reproduce trains the missing networks)")


def spiking_config(cfg: ReproduceConfig, network: NetworkName, noise: float):
    from .spiking_eval import SpikingRunConfig

    return SpikingRunConfig(dataset=cfg.dataset, quant=network.quant, npz=run_files(cfg, network).npz,
                            data_dir=cfg.data_dir, figs_dir=cfg.output_dir / "figs", batch_size=cfg.snn_batch_size,
                            noise_ratio=noise, seed=cfg.seed, limit=cfg.limit, arch=cfg.arch, label=network.label)


def spiking_is_current(cfg: ReproduceConfig, snn_cfg, npz_epochs: int, images: int) -> bool:
    """The logs came from this very npz (same bytes) with this run's settings."""
    from .weights import file_sha256

    stats = read_stats(snn_cfg.log_dir)
    if stats is None:
        return False
    c = stats.config
    recorded = (c.stats_version, c.npz_epochs, c.npz_sha256, c.images, c.time_steps, c.seed, c.noise_layers,
                c.batch_size)
    return recorded == (STATS_VERSION, npz_epochs, file_sha256(snn_cfg.npz), images, 1, cfg.seed, "first",
                        snn_cfg.batch_size)


def run_all(cfg: ReproduceConfig) -> list[str]:
    """Every missing step, in order; returns what was done (empty when everything was already finished)."""
    from .data import load_dataset
    from .figures import FIGURES
    from .spiking_eval import run_spiking
    from .weights import read_npz

    spec = dataset_spec(cfg.dataset)
    if cfg.weights is not None:
        check_weights(cfg)
    data = load_dataset(spec, cfg.data_dir)
    performed: list[str] = []
    for network in cfg.networks.values() if cfg.weights is None else ():
        train_recipe(cfg, network, data, performed)
    if cfg.train_only:
        return performed
    images = len(data.x_test[: cfg.limit])
    ann_cache = {}  # one network's noise ratios share its ANNs' decisions (spiking_eval.run_spiking)
    for name, network in cfg.networks.items():
        if not network.quant.quantized:
            continue
        epochs = read_npz(run_files(cfg, network).npz)[1].epochs
        for noise in cfg.noise_for(name):
            snn_cfg = spiking_config(cfg, network, noise)
            if spiking_is_current(cfg, snn_cfg, epochs, images):
                print(f"== spiking {name} noise {noise:g}: done, kept {snn_cfg.log_dir}", flush=True)
                continue
            print(f"== spiking {name} noise {noise:g}", flush=True)
            run_spiking(snn_cfg, data, ann_cache)
            performed.append(f"spiking {name} noise {noise:g}")
    quantized = [name for name, network in cfg.networks.items() if network.quant.quantized]
    figs_dir = cfg.output_dir / "figs"
    for figure_name, figure in FIGURES.items():
        if quantized and (figure_name != "noise" or any(p > 0 for p in cfg.noise)):
            figure(figs_dir, quantized, spiking_script(spec))
    write_results(cfg)
    return performed


def write_results(cfg: ReproduceConfig) -> None:
    """The results file from every network's npz record and spiking statistics
    (:mod:`quant_snn.results_table` lays it out)."""
    from .results_table import TableEntry, results_markdown
    from .weights import read_npz

    entries = []
    noisy = [p for p in cfg.noise if p > 0]
    for name, network in cfg.networks.items():
        quantized = network.quant.quantized
        files = run_files(cfg, network)
        histories = [cfg.output_dir / "histories" / f"{name}.csv", files.history]
        entries.append(TableEntry(
            name=name, tag=network.tag, npz=read_npz(files.npz)[1], npz_path=files.npz,
            trained_on=cfg.trained_where.get(name, cfg.trained_where.get(None)),
            history=next((path for path in histories if path.is_file()), None),
            clean=read_stats(spiking_config(cfg, network, 0.0).log_dir) if quantized else None,
            noisy=[read_stats(spiking_config(cfg, network, p).log_dir) if quantized and p in cfg.noise_for(name)
                   else None for p in noisy]))
    atomic_write_text(cfg.results_path, results_markdown(cfg, entries))
    print(f"wrote {cfg.results_path}", flush=True)
