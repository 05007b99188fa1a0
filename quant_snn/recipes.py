"""Named training recipes: ``--recipe original`` (the paper's) and ``--recipe fast`` (converges in a CPU budget).

A recipe only fills in the flags that the command line leaves out; the script prints what it expanded to.
"""

from __future__ import annotations

from .errors import UserError

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "cosine", "onecycle")

# Flags each recipe sets. original: Adam at a constant 1e-3 for 200 epochs per run (then --resume True
# --learning_rate 0.0001 for 200 more). fast: chosen by measurement on CIFAR-10 k1B2 (README_VGG.md, "fast recipe").
RECIPES: dict[str, dict[str, object]] = {
    "original": {"optimizer": "adam", "schedule": "constant", "learning_rate": 0.001, "epochs": 200,
                 "warmup_epochs": 0.0, "weight_decay": 0.0, "label_smoothing": 0.0},
    "fast": {"optimizer": "adam", "schedule": "cosine", "learning_rate": 0.002, "epochs": 40,
             "warmup_epochs": 2.0, "weight_decay": 0.0, "label_smoothing": 0.1},
}
# fast60: fast, then a 20-epoch warm restart at half its peak. Its first 40 epochs are the fast recipe's step for
# step, so a finished fast run continues into it with --resume True.
RECIPES["fast60"] = {**RECIPES["fast"], "epochs": 60, "restart_epoch": 40, "restart_learning_rate": 0.001}


# Where a network's recipes differ from the VGG-Net's. LeNet original: Adam at a constant 1e-4 for 200 epochs
# (batch 128, DatasetSpec.batch_size). fast: the VGG-Net's cosine recipe shortened to 15 epochs without label
# smoothing (its results: LeNet/README_LeNet.md).
NETWORK_RECIPES: dict[str, dict[str, dict[str, object]]] = {
    "lenet": {"original": {"learning_rate": 0.0001},
              "fast": {"learning_rate": 0.002, "epochs": 15, "warmup_epochs": 1.0, "label_smoothing": 0.0}},
}


# Runs of the original recipe: the VGG-Net trains 200 epochs at 1e-3, then 200 at 1e-4 (``--resume True``); the
# LeNet 200 epochs at 1e-4.
ORIGINAL_PHASES = {"vgg": 2, "lenet": 1}


def original_phases(network: str) -> int:
    """How many constant-rate runs the original recipe makes for ``network`` (each at a tenth of the last rate)."""
    return ORIGINAL_PHASES.get(network, 2)


def recipe_for(name: str, network: str = "vgg") -> dict[str, object]:
    """The flags recipe ``name`` sets for ``network`` (an architecture's name)."""
    if name not in RECIPES:
        raise UserError(f"unknown --recipe {name!r}: use one of {', '.join(RECIPES)}")
    if "restart_epoch" in RECIPES[name] and name not in NETWORK_RECIPES.get(network, {}) and network != "vgg":
        raise UserError(f"--recipe {name} continues the VGG-Net's fast recipe; for this network use --recipe fast "
                        "with --epochs, --restart_epoch and --restart_learning_rate")
    return {**RECIPES[name], **NETWORK_RECIPES.get(network, {}).get(name, {})}


def expand_recipe(name: str, given: dict[str, object], network: str = "vgg") -> dict[str, object]:
    """``given`` holds the flags from the command line (``None`` where left out); returns them completed. A flag
    that the recipe leaves unset (a restart) is kept when given."""
    recipe = recipe_for(name, network)
    extra = {key: value for key, value in given.items() if key not in recipe and value is not None}
    return {**{key: given[key] if given.get(key) is not None else value for key, value in recipe.items()}, **extra}


def recipe_flags(values: dict[str, object]) -> str:
    """The expanded flags as they would be typed."""
    return " ".join(f"--{key} {value:g}" if isinstance(value, float) else f"--{key} {value}"
                    for key, value in values.items())
