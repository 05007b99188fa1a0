"""The results file (``RESULTS_<DATASET>.md``) that ``quant_snn.reproduce`` writes: provenance (command, code,
data, machine, schedule), one row per configuration beside the paper's figures, the figure links."""

from __future__ import annotations

import datetime
import math
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .datasets import dataset_spec
from .paper import PAPER_ANN, PAPER_EPOCHS, PAPER_NOISE, paper_snn
from .paths import REPO, repo_relative

if TYPE_CHECKING:
    from .reproduce_config import ReproduceConfig
    from .spiking_logs import SpikingStats
    from .weights import NpzInfo


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"


def data_source(cfg: ReproduceConfig) -> str:
    """Where the data came from, as recorded: the official files (checked), or the first line of a prepared copy's
    PROVENANCE.txt; never guessed."""
    from .datasets import PROVENANCE_FILE

    spec = dataset_spec(cfg.dataset)
    if spec.file_format == "idx":
        return "the official MNIST files (md5 of each checked)"
    folder = cfg.data_dir / spec.folder
    if (folder / PROVENANCE_FILE).is_file():
        lines = (folder / PROVENANCE_FILE).read_text(errors="replace").strip().splitlines()
        return f"a prepared copy: {(lines[0] if lines else '')[:300]} (its {PROVENANCE_FILE})"
    if spec.archive_marker and (folder / spec.archive_marker).is_file():
        return "the official archive"
    return f"a copy in the official layout that records no origin (no {PROVENANCE_FILE} in {spec.folder}/)"


def learning_rate_phases(history: Path | None) -> str | None:
    """``lr 0.001 for epochs 1-200, 0.0001 for 201-216``: the constant-rate phases a history CSV records (None
    without one)."""
    import csv

    if history is None or not history.is_file():
        return None
    try:
        with open(history, newline="") as f:
            rows = [(int(r["epoch"]), float(r["learning_rate"])) for r in csv.DictReader(f)]
    except (OSError, KeyError, TypeError, ValueError):
        return None
    phases: list[list] = []
    for epoch, rate in rows:
        if phases and phases[-1][2] == rate:
            phases[-1][1] = epoch
        else:
            phases.append([epoch, epoch, rate])
    if not phases:
        return None
    spans = [(f"{first}-{last}" if last > first else str(first), rate) for first, last, rate in phases]
    return "lr " + ", ".join(f"{rate:g} for {'epochs ' if i == 0 else ''}{span}"
                             for i, (span, rate) in enumerate(spans))


def schedule_text(training: dict | None, network: str = "vgg", history: Path | None = None) -> str:
    """One cell saying how a network was trained (from the npz's own record; a constant rate's phases from its
    training history where there is one)."""
    from .recipes import original_phases, recipe_for

    if training is None:
        return "not recorded"
    if training.get("schedule", "constant") == "constant":
        recorded = learning_rate_phases(history)
        if recorded:
            return f"{training.get('optimizer', 'adam')} constant (original recipe: {recorded})"
        rate = float(recipe_for("original", network)["learning_rate"])

        def short(value: float) -> str:
            return f"{value:.0e}".replace("e-0", "e-")  # 1e-3

        steps = f"lr {short(rate)}, then {short(rate / 10)} from half-way" if original_phases(network) == 2 else \
            f"lr {short(rate)}"
        return f"{training.get('optimizer', 'adam')} constant (original recipe: {steps})"
    text = (f"{training['optimizer']} {training['schedule']} peak {training['learning_rate']:g}, "
            f"warm-up {training['warmup_epochs']:g}, {training['epochs']} epochs")
    if training.get("restart_epoch"):
        text += f", restart at epoch {training['restart_epoch']} peak {training['restart_learning_rate']:g}"
    if training.get("weight_decay"):
        text += f", wd {training['weight_decay']:g}"
    if training.get("label_smoothing"):
        text += f", ls {training['label_smoothing']:g}"
    return text


def command_line(cfg: ReproduceConfig) -> str:
    """The reproduce command that writes this table (output folder aside)."""
    import shlex

    parts = ["python -m quant_snn reproduce", f"--dataset {cfg.dataset}", f"--configs {','.join(cfg.configs)}"]
    parts += [f"--recipe {cfg.recipe}"] if cfg.recipe != "original" and cfg.weights is None else []
    parts += [f"--noise {','.join(f'{p:g}' for p in cfg.noise)}"]
    parts += [f"--epochs {cfg.epochs}"] if cfg.weights is None else [f"--weights {repo_relative(cfg.weights)}"]
    parts += [f"--noise_configs {','.join(cfg.noise_configs)}"] if cfg.noise_configs is not None else []
    parts += [f"--trained_on {shlex.quote(entry)}" for entry in cfg.trained_on]
    parts += [f"--limit {cfg.limit}"] if cfg.limit else []
    return " ".join(parts)


def provenance(cfg: ReproduceConfig) -> list[str]:
    import keras

    from .recipes import original_phases, recipe_flags

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    if cfg.weights is not None:
        schedule = ("nothing trained by this command: every network was read from its npz, whose own record gives "
                    "the schedule column")
    elif cfg.settings["schedule"] == "constant" and original_phases(cfg.arch.name) == 2:
        schedule = (f"the first {math.ceil(cfg.epochs / 2)} epochs at lr {cfg.settings['learning_rate']:g}, the rest "
                    f"at a tenth of it ({recipe_flags(cfg.settings)}); batch {cfg.batch_size}; seed {cfg.seed}")
    elif cfg.settings["schedule"] == "constant":
        schedule = (f"{cfg.epochs} epochs at lr {cfg.settings['learning_rate']:g} ({recipe_flags(cfg.settings)}); "
                    f"batch {cfg.batch_size}; seed {cfg.seed}")
    else:
        schedule = (f"recipe {cfg.recipe}: {recipe_flags({**cfg.settings, 'epochs': cfg.epochs})}; "
                    f"batch {cfg.batch_size}; seed {cfg.seed}")
    return [
        f"- command: `{command_line(cfg)}`",
        f"- code: commit {commit}; Keras {keras.__version__} on the {keras.backend.backend()} backend, "
        f"Python {platform.python_version()}",
        f"- data: `{repo_relative(cfg.data_dir)}`, {data_source(cfg)}",
        f"- machine of the spiking runs (and of training, unless the table's `trained on` says otherwise): "
        f"{platform.machine()}, {os.cpu_count()} CPUs; date {datetime.date.today().isoformat()}",
        f"- schedule: {schedule}" + ("" if cfg.weights is not None else ". Weights that already had the epochs were "
                                     "reused as they were (the table's schedule column is each npz's own record)")
        + f"; SNN batch {cfg.snn_batch_size}, seed {cfg.seed}.",
    ]


@dataclass
class TableEntry:
    """One network's row: its name and configuration tag, its npz (record and path), where it was trained (None:
    here), its noiseless spiking statistics (None: FP32 or not run) and those of every noisy run (None where not
    run)."""

    name: str
    tag: str
    npz: NpzInfo
    npz_path: Path
    trained_on: str | None
    history: Path | None  # the per-epoch training history, where there is one
    clean: SpikingStats | None
    noisy: list[SpikingStats | None]


def weights_cell(path: Path, info: NpzInfo) -> str:
    """Which file a row comes from: a published one by name (its folder's SHA256SUMS lists it), any other by its
    SHA-256, which identifies it wherever it lies."""
    from .publish import recorded_sums

    if recorded_sums(path.parent).get(path.name) == info.sha256:
        return f"`{repo_relative(path)}`"
    return f"not published: sha256 `{info.sha256}`"


def results_markdown(cfg: ReproduceConfig, entries: list[TableEntry]) -> str:
    """The whole RESULTS_*.md: title, provenance, the table beside the paper's figures, the figure links."""
    noisy = [p for p in cfg.noise if p > 0]
    here = f"{platform.machine()}, {os.cpu_count()} CPUs (the spiking runs' machine)"
    header = ["network", "trained on", "schedule", "epochs", "ANN", "SNN", "time steps", "SNN/ANN differing images",
              "spikes / image", "SOPs / image"] + [f"SNN {p:g} noise" for p in noisy] + ["paper ANN", "paper SNN"] + [
              f"paper SNN {p:g} noise" for p in noisy] + ["weights"]
    rows = []
    for entry in entries:
        tag, info, clean, noise_acc = entry.tag, entry.npz, entry.clean, entry.noisy
        rows.append([
            entry.name, entry.trained_on or here, schedule_text(info.training, cfg.arch.name, entry.history),
            str(info.epochs),
            _pct(clean.ann_accuracy if clean else info.test_accuracy),
            _pct(clean.snn_accuracy) if clean else "n/a",
            "1" if clean else "",
            f"{clean.differing_images} of {clean.config.images}" if clean else "",
            f"{clean.spikes_per_image:.3g}" if clean else "",
            f"{clean.sops_per_image:.3g}" if clean else "",
        ] + [_pct(s.snn_accuracy) if s else "" for s in noise_acc] + [
            f"{PAPER_ANN[cfg.dataset][tag]:.2f}%" if tag in PAPER_ANN[cfg.dataset] else "",
            "" if paper_snn(cfg.dataset, tag) is None else f"{paper_snn(cfg.dataset, tag):.2f}%",
        ] + [f"{PAPER_NOISE[cfg.dataset][(tag, p)]:.2f}%" if (tag, p) in PAPER_NOISE[cfg.dataset] else ""
             for p in noisy] + [weights_cell(entry.npz_path, info)])
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
    return "\n".join(lines) + "\n"
