"""Flags and conventions shared by every command: the original's literal booleans, the flags of several scripts,
and one error line with exit status 2 for bad input."""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import UserError
from ..paths import REPO


def literal_bool(text: str) -> bool:
    """Parse ``True``/``False`` (a Python literal, as the original did) and also ``true``/``1``/``0``."""
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = None
    if isinstance(value, bool):
        return value
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def add_quant_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--k", type=int, default=1, help="activation level k: 2^k steps per unit (default 1)")
    parser.add_argument("--B", type=float, default=2.0, help="activation upper bound B (default 2)")


def add_common_flags(parser: argparse.ArgumentParser, script_path: str) -> None:
    parser.add_argument("--data_dir", type=Path, default=REPO / "data",
                        help="folder holding (or receiving) the CIFAR archive (default: the repository's data/)")
    parser.add_argument("--seed", type=int, default=0, help="seed for initialisation, shuffling and augmentation")


def add_parallel_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--distribute", type=literal_bool, default=False,
                        help="data-parallel training over all local devices (TensorFlow or JAX backend); "
                             "--batch_size stays the global batch")
    parser.add_argument("--cpu_devices", type=int, default=None,
                        help="split the CPU into this many logical devices (to try --distribute without GPUs)")
    from ..precision import PRECISIONS

    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="training compute precision (default float32); evaluation is always float32")
    parser.add_argument("--steps_per_execution", type=int, default=1,
                        help="training steps per call (default 1): fewer round trips to an accelerator, the same "
                             "steps (one compiled call on TensorFlow and with --loop device)")
    parser.add_argument("--loop", choices=("fit", "device"), default="fit",
                        help="fit (default): Keras' model.fit; device (JAX): the training set kept on the "
                             "accelerator, --steps_per_execution batches per compiled call (an epoch's: one call "
                             "an epoch); keep 1 on a CPU")


def add_recipe_flags(parser: argparse.ArgumentParser, init: bool = True) -> None:
    from ..recipes import OPTIMIZERS, RECIPES, SCHEDULES  # no Keras import: --help stays fast

    parser.add_argument("--recipe", choices=tuple(RECIPES), default="original",
                        help="original (default: Adam, constant rate), fast (40 epochs) or fast60 (fast, then a "
                             "20-epoch warm restart); fills in the flags below that are not given, and prints them")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=None, help="adam (default) or sgd (Nesterov 0.9)")
    parser.add_argument("--schedule", choices=SCHEDULES, default=None,
                        help="learning rate per step: constant (default), cosine or onecycle over --epochs")
    parser.add_argument("--warmup_epochs", type=float, default=None, help="cosine/onecycle linear warm-up (epochs)")
    parser.add_argument("--weight_decay", type=float, default=None,
                        help="decoupled weight decay per step, times the learning rate (default 0)")
    parser.add_argument("--label_smoothing", type=float, default=None, help="label smoothing (default 0)")
    parser.add_argument("--restart_epoch", type=int, default=None,
                        help="cosine/onecycle: restart the schedule after this many epochs (SGDR warm restart; "
                             "default none); a run that finished those epochs continues with --resume True")
    parser.add_argument("--restart_learning_rate", type=float, default=None,
                        help="the restarted schedule's peak learning rate")
    if init:
        parser.add_argument("--init_npz", type=Path, default=None,
                            help="start a new run from this weights file (e.g. a trained FP32 npz for a quantized run)")


def recipe_settings(args: argparse.Namespace, network: str = "vgg") -> dict:
    """The recipe's flags completed by the ones given; printed when a named recipe other than the original is used."""
    from ..recipes import expand_recipe, recipe_flags

    keys = ("optimizer", "schedule", "learning_rate", "epochs", "warmup_epochs", "weight_decay", "label_smoothing",
            "restart_epoch", "restart_learning_rate")
    values = expand_recipe(args.recipe, {key: getattr(args, key) for key in keys}, network)
    if args.recipe != "original":
        print(f"--recipe {args.recipe}: {recipe_flags(values)}", flush=True)
    return values


def run_cli(
    main: Callable[[], int | None],
    interrupted: str = "interrupted: the last finished epoch is saved; continue with --resume True",
) -> int:
    """Run ``main`` and turn a :class:`UserError` into one line on stderr (exit 2), Ctrl-C into ``interrupted``."""
    try:
        return int(main() or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130


def parse_noise(text: str, flag: str = "--noise") -> list[float]:
    """Comma-separated noise ratios, each checked (at least one)."""
    from ..flag_checks import check_noise_ratio

    try:
        noise = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise UserError(f"{flag} takes comma-separated numbers, got {text!r}") from None
    if not noise:
        raise UserError(f"{flag} names no ratio (e.g. {flag} 0,0.1,0.2)")
    for ratio in noise:
        check_noise_ratio(ratio, f"{flag} ratios")
    return noise


def comma_list(text: str | None) -> list[str] | None:
    """``a, b,`` -> ``["a", "b"]`` (None stays None)."""
    return None if text is None else [item.strip() for item in text.split(",") if item.strip()]
