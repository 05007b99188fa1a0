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

from .atomic import atomic_write_text
from .datasets import dataset_spec
from .errors import UserError
from .layout import HISTORIES, RunLayout, spiking_script
from .names import NetworkName
from .reproduce_config import ReproduceConfig
from .spiking_logs import STATS_VERSION, read_stats


def run_config(cfg: ReproduceConfig, network: NetworkName, **kwargs):
    from .train import RunConfig

    settings = {**cfg.settings, **kwargs}
    return RunConfig(dataset=cfg.dataset, quant=network.quant, data_dir=cfg.data_dir, output_dir=cfg.output_dir,
                     batch_size=cfg.batch_size, seed=cfg.seed, verbose=cfg.verbose, distribute=cfg.distribute,
                     cpu_devices=cfg.cpu_devices, precision=cfg.precision, arch=cfg.arch,
                     steps_per_execution=cfg.steps_per_execution, loop=cfg.loop, label=network.label,
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


def spiking_is_current(cfg: ReproduceConfig, snn_cfg, npz_epochs: int, images: int, test_sha256: str) -> bool:
    """The logs came from this very npz (same bytes) and these very test images, with this run's settings."""
    from .weights import file_sha256

    stats = read_stats(snn_cfg.log_dir)
    if stats is None:
        return False
    c = stats.config
    recorded = (c.stats_version, c.npz_epochs, c.npz_sha256, c.images, c.test_sha256, c.time_steps, c.seed,
                c.noise_layers, c.batch_size)
    return recorded == (STATS_VERSION, npz_epochs, file_sha256(snn_cfg.npz), images, test_sha256, 1, cfg.seed,
                        "first", snn_cfg.batch_size)


def run_all(cfg: ReproduceConfig) -> list[str]:
    """Every missing step, in order; returns what was done (empty when everything was already finished)."""
    from .data import load_dataset, test_set_sha256
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
    test_sha256 = test_set_sha256(data.x_test[: cfg.limit], data.y_test[: cfg.limit])
    ann_cache = {}  # one network's noise ratios share its ANNs' decisions (spiking_eval.run_spiking)
    for name, network in cfg.networks.items():
        if not network.quant.quantized:
            continue
        epochs = read_npz(run_files(cfg, network).npz)[1].epochs
        for noise in cfg.noise_for(name):
            snn_cfg = spiking_config(cfg, network, noise)
            if spiking_is_current(cfg, snn_cfg, epochs, images, test_sha256):
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
    histories = cfg.output_dir / HISTORIES
    if any(histories.glob("*.csv")):
        from .curves import training_figure

        training_figure(histories, figs_dir)
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
        curve = RunLayout(cfg.output_dir, files.spec, network).curve(None if cfg.weights else cfg.recipe)
        if files.history.is_file() and files.folder == cfg.output_dir:  # trained here: the figure's copy follows
            curve.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(curve, files.history.read_text())
        histories = [curve, files.history]
        entries.append(TableEntry(
            name=name, tag=network.tag, npz=read_npz(files.npz)[1], npz_path=files.npz,
            trained_on=cfg.trained_where.get(name, cfg.trained_where.get(None)),
            history=next((path for path in histories if path.is_file()), None),
            clean=read_stats(spiking_config(cfg, network, 0.0).log_dir) if quantized else None,
            noisy=[read_stats(spiking_config(cfg, network, p).log_dir) if quantized and p in cfg.noise_for(name)
                   else None for p in noisy]))
    atomic_write_text(cfg.results_path, results_markdown(cfg, entries))
    print(f"wrote {cfg.results_path}", flush=True)
