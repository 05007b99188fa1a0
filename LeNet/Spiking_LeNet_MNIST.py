"""Convert the quantized LeNet (npz) into a spiking network and run the MNIST test set in one time step."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from quant_snn.cli import spiking_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(spiking_main("mnist", script_path=__file__))
