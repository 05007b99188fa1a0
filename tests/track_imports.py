"""Run a script (``python track_imports.py SCRIPT ARGS...``) and report at exit whether TensorFlow was imported.

The report is the last stderr line: ``tensorflow imported: True`` or ``... False``.
"""

import atexit
import runpy
import sys

MARKER = "tensorflow imported:"


def report() -> None:
    print(f"{MARKER} {'tensorflow' in sys.modules}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    atexit.register(report)
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    runpy.run_path(script, run_name="__main__")
