"""Paths written into logs and results files: relative to the repository, so no machine's folders are recorded."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def repo_relative(path: str | os.PathLike) -> str:
    """``path`` relative to the repository root when inside it, else only its file name."""
    try:
        return str(Path(path).resolve().relative_to(REPO)) or "."
    except ValueError:
        return Path(path).name
