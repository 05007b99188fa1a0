"""The spiking-run log format, in one place: written by ``spiking_eval``, read by ``figures`` and ``reproduce``.

A run's folder is ``figs/k{k}B{B}/`` (noisy runs ``figs/k{k}B{B}_noise{p}/``, so they never overwrite the clean
logs). The original's per-batch logs, one line per batch per time step: ``accuracy.txt`` (correct predictions in
the batch), ``spike_num.txt`` (spikes of all conv layers), ``sop_num.txt`` (SOPs, the original's
accounting). ``stats.json`` adds per-layer spikes, firing rates, both SOP counts, the ANN's MACs and the run's
configuration; logs from the original code (no ``stats.json``) are read as batches of 50 at one time step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_write_text
from .config import TAG_PATTERN
from .errors import UserError

LOG_NAMES = ("accuracy", "spike_num", "sop_num")
LOG_FILES = tuple(f"{name}.txt" for name in LOG_NAMES)
STATS_FILE = "stats.json"
# Bumped when the statistics change meaning, so that reproduce redoes older runs (2: "ann_accuracy" and
# "differing_images" against the exact ANN, float32 ANN figures beside them; first layer summed in float64;
# 3: test images standardized exactly, augment.standardize_pixels).
STATS_VERSION = 3


NOISE_SUFFIX = "_noise"


def log_dir_name(tag: str, noise_ratio: float) -> str:
    """``k1B2`` (noiseless) or ``k1B2_noise0.1``: the folder of one spiking run."""
    return tag + (f"{NOISE_SUFFIX}{noise_ratio:g}" if noise_ratio > 0 else "")


def parse_log_dir_name(name: str) -> tuple[str, float] | None:
    """:func:`log_dir_name` read back: (configuration tag, noise ratio), or None for another name."""
    tag, _, noise = name.partition(NOISE_SUFFIX)
    if not TAG_PATTERN.fullmatch(tag):
        return None
    if not noise:
        return (tag, 0.0) if NOISE_SUFFIX not in name else None
    try:
        ratio = float(noise)
    except ValueError:
        return None
    return (tag, ratio) if 0 < ratio < 1 else None


def write_logs(log_dir: Path, per_batch: dict[str, list[int]], stats: dict) -> None:
    """The three per-batch logs (keys of LOG_NAMES) and stats.json, each replaced atomically."""
    log_dir.mkdir(parents=True, exist_ok=True)
    for name in LOG_NAMES:
        atomic_write_text(log_dir / f"{name}.txt", "".join(f"{int(v)}\n" for v in per_batch[name]))
    atomic_write_text(log_dir / STATS_FILE, json.dumps({**stats, "config": {
        "stats_version": STATS_VERSION, **stats["config"]}}, indent=2) + "\n")


# What the readers (reproduce, figures) take from stats.json: top-level numbers and config entries.
STATS_NUMBERS = ("snn_accuracy", "ann_accuracy", "differing_images", "spikes_per_image", "sops_per_image",
                 "conventional_sops_per_image", "ann_macs_per_image", "spiking_neurons")
CONFIG_ENTRIES = ("images", "time_steps", "thresholds_per_neuron", "npz_epochs", "seed")


def stats_problem(stats) -> str | None:
    """What is wrong with a parsed stats.json (None: nothing the readers need is missing or of the wrong type)."""
    if not isinstance(stats, dict) or not isinstance(stats.get("config"), dict):
        return "not a stats record"
    for key in STATS_NUMBERS:
        if not isinstance(stats.get(key), (int, float)) or isinstance(stats.get(key), bool):
            return f"no number '{key}'"
    config = stats["config"]
    for key in CONFIG_ENTRIES:
        if key not in config:
            return f"no config entry '{key}'"
    if not isinstance(config["images"], int) or config["images"] < 1:
        return f"{config['images']!r} images"
    if not isinstance(config["time_steps"], int) or config["time_steps"] < 1:
        return f"{config['time_steps']!r} time steps"
    layers = stats.get("layers")
    if not isinstance(layers, list) or not all(isinstance(layer, dict) and "name" in layer for layer in layers):
        return "no per-layer records"
    return None


def read_stats(log_dir: Path) -> dict | None:
    """A run's stats.json; None when it is absent, or damaged (a run whose record cannot be read is redone)."""
    path = log_dir / STATS_FILE
    try:
        stats = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    return None if stats_problem(stats) else stats


@dataclass
class RunLogs:
    """Totals of one spiking run, averaged over its test images."""

    tag: str
    images: int
    time_steps: int
    accuracy: float  # SNN accuracy at the last time step
    spikes_per_image: float
    sops_per_image: float
    stats: dict | None

    @property
    def ann_accuracy(self) -> float | None:
        return None if self.stats is None else self.stats["ann_accuracy"]


def read_logs(log_dir: Path) -> RunLogs:
    """The totals of one run's logs (the original's, without stats.json, are batches of 50 over one time step)."""

    def damaged(why: str) -> UserError:
        return UserError(f"cannot read the logs in {log_dir} ({why}); run the spiking script again")

    try:
        values = {name: [int(float(v)) for v in (log_dir / f"{name}.txt").read_text().split()] for name in LOG_NAMES}
    except (ValueError, OSError) as exc:
        raise damaged(str(exc)) from None
    stats = None
    if (log_dir / STATS_FILE).exists():
        try:
            stats = json.loads((log_dir / STATS_FILE).read_text())
        except (ValueError, OSError, RecursionError) as exc:
            raise damaged(f"{STATS_FILE}: {exc}") from None
        if stats_problem(stats):
            raise damaged(f"{STATS_FILE}: {stats_problem(stats)}")
    steps = stats["config"]["time_steps"] if stats else 1
    images = stats["config"]["images"] if stats else 50 * (len(values["accuracy"]) // steps)
    lengths = {len(v) for v in values.values()}
    if images < 1 or len(lengths) != 1 or lengths == {0} or next(iter(lengths)) % steps:
        raise damaged(f"{' / '.join(f'{len(v)}' for v in values.values())} lines in {', '.join(LOG_FILES)} for "
                      f"{images} images over {steps} time steps")
    last_step = values["accuracy"][steps - 1 :: steps]
    return RunLogs(log_dir.name, images, steps, sum(last_step) / images, sum(values["spike_num"]) / images,
                   sum(values["sop_num"]) / images, stats)
