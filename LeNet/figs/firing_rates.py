"""Chart: per-layer firing rates of each configuration (MNIST); reads the logs in this folder, saves PNG and SVG
here."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
from quant_snn.cli import figure_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(figure_main("firing_rates", "mnist", script_path=__file__))
