"""The committed CIFAR-10 results belong to the published files: every published network has its committed spiking
run (made from the same bytes, SNN = ANN on the whole test set), and every accuracy the tables quote is that run's."""

import re

import pytest
from conftest import REPO

from quant_snn.publish import recorded_sums
from quant_snn.showcase import DEFAULT_NETWORK, published_names, published_npz
from quant_snn.spiking_logs import log_dir_name, read_stats
from quant_snn.weights import file_sha256

FIGS = REPO / "CIFAR10" / "figs"


def table_rows(path, first_cell=r"\*{0,2}(k\d+B[0-9.]+_[a-z0-9]+|fp32_[a-z0-9]+)\*{0,2}"):
    """Rows of the markdown tables in ``path`` keyed by their network name (bold or not)."""
    rows = {}
    for line in path.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        match = re.fullmatch(first_cell, cells[0]) if line.startswith("|") else None
        if match:
            rows[match.group(1)] = cells
    return rows


def pct(value):
    return f"{100 * value:.2f}%"


def test_every_published_network_has_its_committed_run_and_the_tables_quote_it():
    names = published_names("cifar10")
    assert DEFAULT_NETWORK["cifar10"] in names and len(names) == 7
    sums = recorded_sums(REPO / "CIFAR10" / "published")
    results = table_rows(REPO / "CIFAR10" / "RESULTS_CIFAR10.md")
    readme = table_rows(REPO / "README_VGG.md")
    for name in names:
        npz = published_npz("cifar10", name)
        digest = file_sha256(npz)
        assert sums[npz.name] == digest, name  # the file is the published one (a Git LFS pointer would fail here)
        clean = read_stats(FIGS / log_dir_name(name, 0.0))
        assert clean is not None and clean.config.npz_sha256 == digest, name
        assert (clean.config.images, clean.differing_images) == (10_000, 0), name
        assert f"`CIFAR10/published/{npz.name}`" in results[name], name
        assert pct(clean.snn_accuracy) in results[name] and pct(clean.snn_accuracy) in readme[name], name
        for noise in (0.1, 0.2):
            noisy = read_stats(FIGS / log_dir_name(name, noise))
            if noisy is not None:
                assert noisy.config.npz_sha256 == digest, (name, noise)
                assert pct(noisy.snn_accuracy) in results[name] and pct(noisy.snn_accuracy) in " ".join(readme[name])


@pytest.mark.parametrize("path", ["CIFAR10/RESULTS_CIFAR10.md", "README_VGG.md"])
def test_every_row_of_ours_names_a_network_the_repository_can_account_for(path):
    rows = table_rows(REPO / path)
    published = set(published_names("cifar10"))
    assert rows and set(rows) <= published | {"fp32_fast60"}  # the FP32 row names its file by SHA-256
    assert "not published: sha256 `9b6e6b35" in " ".join(table_rows(REPO / "CIFAR10" / "RESULTS_CIFAR10.md")[
        "fp32_fast60"])
