"""Figures from the spiking logs (``figs/k{k}B{B}[_noise{p}]/``): accuracy, sparsity, SOPs, firing rates, noise.

Reads the spiking logs (:mod:`quant_snn.spiking_logs`: the original's per-batch files and our ``stats.json``).
Figures never open a window (Agg backend) and are saved as PNG and SVG beside the logs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["svg.hashsalt"] = "quant_snn"  # the same figure gives the same SVG bytes (no random ids)
import matplotlib.pyplot as plt  # noqa: E402

from .atomic import atomic_write  # noqa: E402
from .datasets import ORIGINAL_CONFIGS  # noqa: E402
from .errors import UserError  # noqa: E402
from .names import is_spiking_name, parse_name  # noqa: E402
from .spiking_logs import (  # noqa: E402
    LOG_FILES,
    NOISE_SUFFIX,
    STATS_FILE,
    RunLogs,
    parse_log_dir_name,
    read_logs,
)

# no creation date in the files: redrawing the same logs changes no committed byte
REPRODUCIBLE = {"png": {"Software": None}, "svg": {"Date": None}}
SPIKE_WORDS = {1: "single", 2: "two", 4: "four", 8: "eight", 16: "sixteen"}


def spike_label(name: str) -> str:
    """``k1B2`` -> ``four-spike (k1B2)``, ``k1B2_fast60`` -> ``four-spike (k1B2, fast60)``: the most spikes a neuron
    can emit, 2^k*B, as the original named them."""
    network = parse_name(name)
    n = network.quant.n_thresholds
    return f"{SPIKE_WORDS.get(n, str(n))}-spike ({', '.join(filter(None, (network.tag, network.label)))})"


def missing_message(figs_dir: Path, tags: list[str], script: str, need: tuple[str, ...] = LOG_FILES) -> str:
    commands = []
    for tag in tags:
        base, noise = parse_log_dir_name(tag) or (tag, 0.0)
        network = parse_name(base)
        noise_flag = f" --noise_ratio {noise:g}" if noise else ""
        label_flag = f" --label {network.label}" if network.label else ""
        commands.append(f"python {script} --k {network.quant.k} --B {network.quant.B:g}{label_flag}{noise_flag}")
    where = ", ".join(str(figs_dir / tag) for tag in tags)
    return f"missing logs ({', '.join(need)}) in {where}; make them with: " + " ; ".join(commands)


def found_names(figs_dir: Path) -> list[str]:
    """The networks with a noiseless log folder in ``figs_dir``, by k, B and label (a folder of an impossible
    configuration is passed over with a note)."""
    found = []
    for path in sorted(figs_dir.glob("k*B*")):
        parsed = parse_log_dir_name(path.name)
        if path.is_dir() and parsed is not None and parsed[1] == 0.0:
            try:
                parse_name(path.name)
                found.append(path.name)
            except UserError as exc:  # a stray folder (k17B2) is passed over, not a reason to draw nothing
                print(f"note: passing over {path}: {exc}", file=sys.stderr)
    found.sort(key=lambda name: (parse_name(name).quant.k, parse_name(name).quant.B, parse_name(name).label or ""))
    return found


def collect(figs_dir: Path, configs: list[str] | None, script: str, need: tuple[str, ...] = LOG_FILES) -> list[RunLogs]:
    """The requested networks, in order; by default every noiseless log folder found (by k, B and label), or, where
    there is none, the original's three configurations (whose missing logs the error then names)."""
    tags = list(configs) if configs else found_names(figs_dir) or list(ORIGINAL_CONFIGS)
    for tag in tags:
        if not is_spiking_name(tag):
            raise UserError(f"not a spiking configuration: {tag!r} (expected k{{k}}B{{B}}, e.g. k1B2, or a labelled "
                            "network, e.g. k1B2_fast60)")
        parse_name(tag)  # impossible k/B: one clear error
    missing = [tag for tag in tags if not all((figs_dir / tag / name).is_file() for name in need)]
    if missing:
        raise UserError(missing_message(figs_dir, missing, script, need))
    return [read_logs(figs_dir / tag) for tag in tags]


def save_figure(fig, figs_dir: Path, name: str) -> list[Path]:
    """``name``.png and .svg in ``figs_dir``, each written whole or not at all; the figure is closed."""
    paths = [figs_dir / f"{name}.png", figs_dir / f"{name}.svg"]
    fig.tight_layout()
    try:
        for path in paths:  # whole files or none (a figure of an earlier run is never left half-written)
            atomic_write(path, lambda f, path=path: fig.savefig(f, format=path.suffix[1:], dpi=150,
                                                             metadata=REPRODUCIBLE[path.suffix[1:]]))
    finally:
        plt.close(fig)
    return paths


def _bars(ax, labels, series: dict, ylabel: str, log: bool = False, fmt: str = "{:.3g}") -> None:
    width = 0.8 / len(series)
    for j, (name, values) in enumerate(series.items()):
        xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(labels))]
        bars = ax.bar(xs, values, width, label=name)
        ax.bar_label(bars, labels=[fmt.format(v) for v in values], fontsize=7)
    # one line per part (four-spike / k1B2 / fast60), and room for every bar group: labels never overlap
    ax.set_xticks(range(len(labels)), [label.replace(" (", "\n(").replace(", ", ",\n") for label in labels],
                  fontsize=8)
    ax.figure.set_size_inches(max(6.0, 1.0 + 1.1 * len(labels)), 4.4)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)


def accuracy_figure(figs_dir: Path, configs=None, script: str = "Spiking_VGG_*.py") -> list[Path]:
    runs = collect(figs_dir, configs, script)
    fig, ax = plt.subplots(figsize=(6, 4))
    series = {"SNN (T=1)" if all(r.time_steps == 1 for r in runs) else "SNN": [100 * r.accuracy for r in runs]}
    if all(r.ann_accuracy is not None for r in runs):
        series["quantized ANN"] = [100 * r.ann_accuracy for r in runs]
    _bars(ax, [spike_label(r.tag) for r in runs], series, "test accuracy (%)", fmt="{:.2f}")
    low = min(min(v) for v in series.values())
    ax.set_ylim(max(0.0, low - 10), 100)
    ax.set_title("Accuracy of the converted spiking networks")
    return save_figure(fig, figs_dir, "accuracy")


def sparsity_figure(figs_dir: Path, configs=None, script: str = "Spiking_VGG_*.py") -> list[Path]:
    runs = collect(figs_dir, configs, script, LOG_FILES + (STATS_FILE,))
    fig, ax = plt.subplots(figsize=(6, 4))
    capacity = [r.stats.spiking_neurons * r.stats.config.thresholds_per_neuron for r in runs]
    _bars(ax, [spike_label(r.tag) for r in runs],
          {"spikes per image": [r.spikes_per_image for r in runs],
           "neurons x 2^k*B (every threshold reached)": capacity},
          "count per image", log=True)
    ax.set_title("Spikes per image against the most the network could emit")
    return save_figure(fig, figs_dir, "sparsity")


def sops_figure(figs_dir: Path, configs=None, script: str = "Spiking_VGG_*.py") -> list[Path]:
    runs = collect(figs_dir, configs, script, LOG_FILES + (STATS_FILE,))
    fig, ax = plt.subplots(figsize=(6, 4))
    _bars(ax, [spike_label(r.tag) for r in runs], {
        "SOPs (original accounting)": [r.sops_per_image for r in runs],
        "SOPs (fan-out)": [r.stats.conventional_sops_per_image for r in runs],
        "ANN MACs": [r.stats.ann_macs_per_image for r in runs],
    }, "operations per image", log=True)
    ax.set_title("Synaptic operations per image")
    return save_figure(fig, figs_dir, "sops")


def firing_rates_figure(figs_dir: Path, configs=None, script: str = "Spiking_VGG_*.py") -> list[Path]:
    runs = collect(figs_dir, configs, script, (STATS_FILE,) + LOG_FILES)
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in runs:
        layers = [layer for layer in r.stats.layers if layer.firing_rate is not None]
        ax.plot([layer.name for layer in layers], [layer.firing_rate for layer in layers], marker="o",
                label=spike_label(r.tag))
    ax.set_ylabel("firing rate (spikes / (neurons x 2^k*B))")
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.legend(fontsize=8)
    ax.set_title("Per-layer firing rates")
    return save_figure(fig, figs_dir, "firing_rates")


def noise_figure(figs_dir: Path, configs=None, script: str = "Spiking_VGG_*.py") -> list[Path]:
    curves: dict[str, list[tuple[float, float]]] = {}
    for path in sorted(figs_dir.glob(f"k*B*{NOISE_SUFFIX}*")):
        parsed = parse_log_dir_name(path.name)
        if parsed and parsed[1] > 0 and (configs is None or parsed[0] in configs) and (path / "accuracy.txt").is_file():
            curves.setdefault(parsed[0], []).append((parsed[1], read_logs(path).accuracy))
    if not curves:
        wanted = list(configs) if configs else found_names(figs_dir) or ["k1B2"]
        raise UserError(missing_message(figs_dir, [f"{t}_noise0.1" for t in wanted], script))
    fig, ax = plt.subplots(figsize=(6, 4))
    for tag, points in curves.items():
        if (figs_dir / tag / "accuracy.txt").is_file():
            points.append((0.0, read_logs(figs_dir / tag).accuracy))
        points.sort()
        ax.plot([p for p, _ in points], [100 * a for _, a in points], marker="o", label=spike_label(tag))
    ax.set_xlabel("noise ratio (share of first-layer spikes dropped)")
    ax.set_ylabel("SNN test accuracy (%)")
    ax.legend(fontsize=8)
    ax.set_title("Accuracy under spike noise")
    return save_figure(fig, figs_dir, "noise")


FIGURES = {
    "accuracy": accuracy_figure,
    "sparsity": sparsity_figure,
    "sops": sops_figure,
    "firing_rates": firing_rates_figure,
    "noise": noise_figure,
}
