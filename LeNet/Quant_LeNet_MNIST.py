"""Train (--mode training) or evaluate (--mode inference) the quantized LeNet (ternary weights, activations of level k
and bound B) on MNIST."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from quant_snn.cli import training_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(training_main("mnist", quantized=True, script_path=__file__))
