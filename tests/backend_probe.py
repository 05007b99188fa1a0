"""One process on one backend does what test_backends.py compares across backends: resume one epoch of the small
VGG variant from a checkpoint written on another backend, evaluate the npz it wrote, and run the Spiking script's
entry point on another backend's full-VGG npz. Run it under track_imports.py to learn whether TensorFlow was
imported. Prints ``trained <accuracy>`` and ``evaluated <accuracy>``, then the Spiking script's output.

    KERAS_BACKEND=jax python track_imports.py backend_probe.py DATA_DIR RUN_DIR SPIKING_NPZ FIGS_DIR
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

from synthetic import SMALL  # noqa: E402

from quant_snn.cli import spiking_main  # noqa: E402
from quant_snn.quant_config import QuantConfig  # noqa: E402
from quant_snn.train import RunConfig, evaluate, train  # noqa: E402


def run_config(data_dir, run_dir, **kwargs) -> RunConfig:
    return RunConfig(dataset="cifar10", quant=QuantConfig(1, 2), data_dir=data_dir, output_dir=run_dir,
                     batch_size=10, verbose=0, arch=SMALL, **kwargs)


def probe(data_dir: str, run_dir: str, spiking_npz: str, figs_dir: str) -> int:
    history = train(run_config(data_dir, run_dir, epochs=1, resume=True, learning_rate=1e-4))
    print(f"trained {history[-1]['epoch']} {history[-1]['test_accuracy']}")
    print(f"evaluated {evaluate(run_config(data_dir, run_dir, mode='inference'))[1]}")
    return spiking_main("cifar10", str(REPO / "CIFAR10" / "Spiking_VGG_CIFAR10.py"), [
        "--npz", spiking_npz, "--data_dir", data_dir, "--figs_dir", figs_dir, "--batch_size", "10"])


if __name__ == "__main__":
    sys.exit(probe(*sys.argv[1:5]))
