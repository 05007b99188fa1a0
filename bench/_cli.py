"""What the bench scripts share on the command line: flag types that refuse impossible values while the flags are
parsed (before any model is built or any file written), and one entry point that turns bad input into one
``error: ...`` line on stderr with exit status 2 (:func:`quant_snn.cli.flags.run_cli`) instead of a traceback.

Kept free of Keras: ``bench/gpu_stage.py`` imports it on a GPU machine before Keras is installed there.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn

from quant_snn.cli.flags import run_cli


def whole_number(minimum: int):
    """An argparse type: a whole number >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


positive_int = whole_number(1)  # a count of images, steps, rounds: 0 would divide by zero later
non_negative_int = whole_number(0)  # where 0 means "none of these"


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0 (nan and inf pass ``> 0`` tests or fail only deep inside the work)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def positive_int_list(text: str) -> list[int]:
    """An argparse type: comma-separated whole numbers >= 1, at least one (batch sizes)."""
    values = [positive_int(item.strip()) for item in text.split(",") if item.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers >= 1, got {text!r}")
    return values


def run_main(main: Callable[[list[str] | None], int | None]) -> NoReturn:
    """Run a bench script's ``main(argv)`` on the command line and exit with its status (2 for bad input)."""
    sys.exit(run_cli(lambda: main(None), interrupted="interrupted"))
