"""One process on one backend does what test_backends.py compares across backends, through the scripts' own entry
points: resume one epoch from a checkpoint written on another backend, evaluate the npz it wrote, and run the
spiking network of another backend's npz. Run it under track_imports.py to learn whether TensorFlow was imported.

    KERAS_BACKEND=jax python track_imports.py backend_probe.py DATA_DIR RUN_DIR REFERENCE_NPZ FIGS_DIR
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from quant_snn.cli import spiking_main, training_main  # noqa: E402

QUANT, SPIKING = str(REPO / "CIFAR10" / "Quant_VGG_CIFAR10.py"), str(REPO / "CIFAR10" / "Spiking_VGG_CIFAR10.py")


def probe(data_dir: str, run_dir: str, reference_npz: str, figs_dir: str) -> int:
    common = ["--data_dir", data_dir, "--output_dir", run_dir, "--batch_size", "10", "--verbose", "0"]
    steps = [
        (training_main, ("cifar10", True, QUANT), [*common, "--epochs", "1", "--resume", "True",
                                                   "--learning_rate", "0.0001"]),
        (training_main, ("cifar10", True, QUANT), [*common, "--mode", "inference"]),
        (spiking_main, ("cifar10", SPIKING), ["--npz", reference_npz, "--data_dir", data_dir, "--figs_dir", figs_dir,
                                             "--batch_size", "10"]),
    ]
    for main, args, argv in steps:
        code = main(*args, argv=argv)
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(probe(*sys.argv[1:5]))
