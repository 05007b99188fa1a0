"""The command line, apart from the library: the original scripts' entry points (:mod:`.scripts`, which the thin
scripts in CIFAR10/, CIFAR100/ and LeNet/ call), ``python -m quant_snn <command>`` (:mod:`.commands`) and the flags
they share (:mod:`.flags`). No library module imports it. Importing it checks ``KERAS_BACKEND`` first."""

from .backend_check import check_keras_backend

check_keras_backend()  # before anything below imports Keras

from .flags import literal_bool, recipe_settings, run_cli  # noqa: E402
from .scripts import curves_main, figure_main, spiking_main, training_main, training_parser  # noqa: E402

__all__ = ["curves_main", "figure_main", "literal_bool", "recipe_settings", "run_cli", "spiking_main",
           "training_main", "training_parser"]
