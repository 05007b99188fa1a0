"""Shared fixtures: tiny synthetic datasets in the official formats, and no network access ever."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from synthetic import write_dataset

from quant_snn.datasets import CIFAR10, CIFAR100
from quant_snn.download import ORIGIN_ENV
from quant_snn.seeding import set_seed

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch, tmp_path_factory):
    """Point every download (also in subprocesses) at an empty local folder, so a test never reaches the network."""
    empty = tmp_path_factory.mktemp("no-mirror")
    monkeypatch.setenv(ORIGIN_ENV, empty.as_uri())
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(autouse=True)
def seeded():
    """Every test starts from the same global seeds, whatever ran before it in its process (pytest-xdist spreads
    the tests over workers, so the order differs between runs)."""
    set_seed(0)


@pytest.fixture(scope="session")
def cifar10_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cifar10")
    write_dataset(CIFAR10, root, per_file=8, test=20, seed=1)
    return root


@pytest.fixture(scope="session")
def cifar100_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cifar100")
    write_dataset(CIFAR100, root, per_file=40, test=20, seed=2)
    return root


def script_env() -> dict:
    """The environment of a subprocess: the repository and tests/ importable (the package need not be installed)."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "tests"), *filter(None, [env.get("PYTHONPATH")])])
    return env
