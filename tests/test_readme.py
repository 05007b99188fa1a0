"""Every accuracy and spike count that README.md's results tables quote is the committed run's it comes from
(CIFAR-10: CIFAR10/figs/<network>*/stats.json and, for FP32, the committed RESULTS table; MNIST: LeNet's logs), so
that no figure in the README outlives the files that made it."""

import re

from conftest import REPO

from quant_snn.spiking_logs import log_dir_name, read_stats


def rows(text: str, heading: str) -> list[list[str]]:
    """The body rows of the first table after ``heading``, as lists of cells."""
    lines = text[text.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    table = lines[start:end]
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table[2:]]


def percents(cell: str) -> list[str]:
    return re.findall(r"\d+\.\d\d%", cell)


def pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def cifar10_row(name: str) -> list[str]:
    for line in (REPO / "CIFAR10" / "RESULTS_CIFAR10.md").read_text().splitlines():
        if line.startswith(f"| {name} |"):
            return [cell.strip() for cell in line.strip().strip("|").split("|")]
    raise AssertionError(f"no {name} row in RESULTS_CIFAR10.md")


def test_the_cifar10_table_quotes_the_committed_runs():
    table = rows((REPO / "README.md").read_text(), "## Results")
    checked = 0
    for cells in table:
        names = [n.strip() for n in cells[0].split("/")]
        snn, noise, spikes = (c.split(" / ") if c else [] for c in (cells[2], cells[3], cells[4]))
        for i, name in enumerate(names):
            if name.startswith("fp32"):
                assert percents(snn[i])[0] == cifar10_row(name)[4], name  # its ANN, from the committed table
                checked += 1
                continue
            stats = {p: read_stats(REPO / "CIFAR10" / "figs" / log_dir_name(name, p)) for p in (0.0, 0.1, 0.2)}
            assert percents(snn[i]) == [pct(stats[0.0].snn_accuracy)] and stats[0.0].differing_images == 0, name
            assert spikes[i] == f"{round(stats[0.0].spikes_per_image):,}", name
            if noise:
                assert percents(cells[3]) == [pct(stats[0.1].snn_accuracy), pct(stats[0.2].snn_accuracy)], name
            checked += 1
    assert checked == 8  # every CIFAR-10 network of the committed table


def test_the_mnist_table_quotes_the_committed_runs():
    table = rows((REPO / "README.md").read_text(), "MNIST (LeNet")
    folders = {"the authors' k1B2 file, run by this code": REPO / "LeNet" / "original" / "figs",
               "k1B2, trained here (15 epochs)": REPO / "LeNet" / "figs"}
    assert [cells[0] for cells in table] == list(folders)
    for cells in table:
        figs = folders[cells[0]]
        runs = [read_stats(figs / log_dir_name("k1B2", p)) for p in (0.0, 0.1, 0.2)]
        assert percents(cells[1]) == [pct(runs[0].snn_accuracy)] and runs[0].differing_images == 0
        assert percents(cells[2]) == [pct(runs[1].snn_accuracy), pct(runs[2].snn_accuracy)]


def test_the_readme_stays_short():
    assert len((REPO / "README.md").read_text().splitlines()) <= 80
