"""Chart: per-epoch test accuracy of the training runs in ../histories (MNIST): the recipes of one configuration,
and one recipe across configurations; saves PNG and SVG here."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
from quant_snn.cli import curves_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(curves_main("mnist", script_path=__file__))
