"""``python -m quant_snn <command>``: see :mod:`quant_snn.cli.commands`."""

import sys

from .cli.commands import main

sys.exit(main())
