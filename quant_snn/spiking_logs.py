"""The spiking-run log format, in one place: written by ``spiking_eval``, read by ``figures`` and ``reproduce``.

A run's folder is ``figs/k{k}B{B}/`` (noisy runs ``figs/k{k}B{B}_noise{p}/``, so they never overwrite the clean
logs). The original's per-batch logs, one line per batch per time step: ``accuracy.txt`` (correct predictions in
the batch), ``spike_num.txt`` (spikes of all twelve conv layers), ``sop_num.txt`` (SOPs, the original's
accounting). ``stats.json`` adds per-layer spikes, firing rates, both SOP counts, the ANN's MACs and the run's
configuration; logs from the original code (no ``stats.json``) are read as batches of 50 at one time step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_write_text
from .errors import UserError

LOG_NAMES = ("accuracy", "spike_num", "sop_num")
LOG_FILES = tuple(f"{name}.txt" for name in LOG_NAMES)
STATS_FILE = "stats.json"
# Bumped when the statistics change meaning, so that reproduce redoes older runs (2: "ann_accuracy" and
# "differing_images" against the exact ANN, float32 ANN figures beside them; first layer summed in float64;
# 3: test images standardized exactly, augment.standardize_pixels).
STATS_VERSION = 3


def log_dir_name(tag: str, noise_ratio: float) -> str:
    return tag + (f"_noise{noise_ratio:g}" if noise_ratio > 0 else "")


def write_logs(log_dir: Path, per_batch: dict[str, list[int]], stats: dict) -> None:
    """The three per-batch logs (keys of LOG_NAMES) and stats.json, each replaced atomically."""
    log_dir.mkdir(parents=True, exist_ok=True)
    for name in LOG_NAMES:
        atomic_write_text(log_dir / f"{name}.txt", "".join(f"{int(v)}\n" for v in per_batch[name]))
    atomic_write_text(log_dir / STATS_FILE, json.dumps({**stats, "config": {
        "stats_version": STATS_VERSION, **stats["config"]}}, indent=2) + "\n")


def read_stats(log_dir: Path) -> dict | None:
    path = log_dir / STATS_FILE
    return json.loads(path.read_text()) if path.is_file() else None


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
    try:
        values = {name: [int(float(v)) for v in (log_dir / f"{name}.txt").read_text().split()] for name in LOG_NAMES}
        stats = read_stats(log_dir)
    except (ValueError, OSError) as exc:
        raise UserError(f"cannot read the logs in {log_dir} ({exc}); run the spiking script again") from None
    steps = stats["config"]["time_steps"] if stats else 1
    images = stats["config"]["images"] if stats else 50 * (len(values["accuracy"]) // steps)
    last_step = values["accuracy"][steps - 1 :: steps]
    return RunLogs(log_dir.name, images, steps, sum(last_step) / images, sum(values["spike_num"]) / images,
                   sum(values["sop_num"]) / images, stats)
