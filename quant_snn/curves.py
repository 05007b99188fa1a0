"""Per-epoch test accuracy from training histories: one recipe against another, one recipe across configurations.

Reads ``histories/{config}_{recipe}.csv`` (copies of the ``history_*.csv`` that training writes, e.g.
``k1B2_fast.csv``, ``k1B2_original.csv``) and saves ``training.png`` / ``.svg``: on the left every recipe of the
configuration ``focus``, on the right every configuration trained with the recipe ``recipe``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .errors import UserError  # noqa: E402
from .figures import save_figure  # noqa: E402


def read_history(path: Path) -> tuple[list[int], list[float]]:
    """Epochs and test accuracies of one history CSV."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        epochs, accuracy = [int(r["epoch"]) for r in rows], [float(r["test_accuracy"]) for r in rows]
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"history {path} cannot be read ({type(exc).__name__}: {exc})") from None
    if not rows:
        raise UserError(f"history {path} holds no epoch (a header only, or an empty file)")
    bad = next((i for i, (e, a) in enumerate(zip(epochs, accuracy)) if e < 1 or not 0 <= a <= 1), None)
    if bad is not None:  # inf or nan would stretch or break the axes
        raise UserError(f"history {path} row {bad + 1}: epoch {epochs[bad]}, test accuracy {accuracy[bad]} is no "
                        "epoch's accuracy (a whole number >= 1, a fraction in [0, 1])")
    return epochs, accuracy


def split_name(path: Path) -> tuple[str, str]:
    """``k1B2_adam_cosine.csv`` -> (``k1B2``, ``adam_cosine``)."""
    config, _, recipe = path.stem.partition("_")
    return config, recipe or "?"


def common_recipe(files: list[Path]) -> str:
    """The recipe with histories of the most configurations (the earlier name on a tie): the right panel's default."""
    counts: dict[str, int] = {}
    for path in files:
        name = split_name(path)[1]
        counts[name] = counts.get(name, 0) + 1
    return max(sorted(counts), key=lambda name: counts[name])


def training_figure(histories: Path, figs_dir: Path, focus: str = "k1B2", recipe: str | None = None) -> list[Path]:
    """``recipe``: the one shown across configurations (default: the one most configurations were trained with)."""
    files = sorted(Path(histories).glob("*.csv"))
    if not files:
        raise UserError(f"no history CSVs in {histories}: copy training's history_*.csv there as "
                        "{config}_{recipe}.csv (e.g. k1B2_fast.csv)")
    recipe = recipe or common_recipe(files)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    shown: list[list[float]] = []
    for path in files:
        config, name = split_name(path)
        epochs, accuracy = read_history(path)
        percent = [100 * a for a in accuracy]
        if config == focus or name == recipe:
            shown.append(percent)
        if config == focus:
            left.plot(epochs, percent, label=f"{name} ({len(epochs)} ep: {percent[-1]:.2f}%)",
                      linewidth=2.2 if name == recipe else 1.0)
        if name == recipe:
            right.plot(epochs, percent, label=f"{config} ({percent[-1]:.2f}%)")
    left.set_title(f"{focus}: test accuracy per epoch, by recipe")
    right.set_title(f"recipe {recipe}: test accuracy per epoch, by configuration")
    # from the lowest second-epoch accuracy to the best: CIFAR's 40-95% and MNIST's 98-100% both fill the panel
    bottom = max(0.0, min(p[min(1, len(p) - 1)] for p in shown) - 1.0) if shown else 0.0
    top = min(100.0, max(max(p) for p in shown) + 0.5) if shown else 100.0
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
        ax.set_ylim(bottom, top)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    left.set_xscale("log")
    return save_figure(fig, Path(figs_dir), "training")
