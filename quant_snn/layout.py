"""Where a run's files go: one object names them all (weights, checkpoint, history, spiking logs, figures, results),
so that training, the spiking scripts, reproduce and the showcase agree; and where each dataset's scripts,
published networks and committed results live in the repository.

    layout = RunLayout.of("runs/c10", "cifar10", QuantConfig(1, 2), "fast60")
    layout.npz          # runs/c10/model_cifar_10_k1B2_fast60.npz (the original scripts: model_cifar_10_k1B2.npz)
    layout.log_dir(0.1) # runs/c10/figs/k1B2_fast60_noise0.1/
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .datasets import DatasetSpec, dataset_spec
from .names import NetworkName
from .paths import REPO
from .quant_config import QuantConfig

PUBLISHED = "published"  # a dataset folder's published networks, beside their SHA256SUMS
HISTORIES = "histories"  # per-epoch training histories, one <network>.csv each, read by the training figure


@dataclass(frozen=True)
class RunLayout:
    """One network's files in one output folder: ``model_cifar_10_k1B2[_label].npz`` (weights),
    ``checkpoint_<stem>.npz`` and ``history_<stem>.csv`` beside it, ``figs/<network>[_noise<p>]/`` (spiking logs),
    ``figs/*.png`` (figures), ``histories/<network>.csv`` (the history the training figure reads) and
    ``RESULTS_<DATASET>.md``."""

    folder: Path
    spec: DatasetSpec
    network: NetworkName

    @classmethod
    def of(cls, folder: str | os.PathLike, dataset: str, quant: QuantConfig, label: str | None = None) -> RunLayout:
        return cls(Path(folder), dataset_spec(dataset), NetworkName(quant, label))

    @property
    def stem(self) -> str:
        return f"{self.spec.npz_stem}_{self.network}"

    @property
    def npz(self) -> Path:
        return self.folder / f"{self.stem}.npz"

    @property
    def checkpoint(self) -> Path:
        return self.folder / f"checkpoint_{self.stem}.npz"

    @property
    def history(self) -> Path:
        return self.folder / f"history_{self.stem}.csv"

    @property
    def figs(self) -> Path:
        return self.folder / "figs"

    def log_dir(self, noise_ratio: float = 0.0) -> Path:
        from .spiking_logs import log_dir_name

        return self.figs / log_dir_name(str(self.network), noise_ratio)

    def curve(self, recipe: str | None = None) -> Path:
        """``histories/<network>.csv``; an unlabelled network's history is named by the recipe that trained it
        (``histories/k1B2_fast.csv``), as the training figure reads ``<config>_<recipe>``."""
        name = str(self.network) if self.network.label or recipe is None else f"{self.network}_{recipe}"
        return self.folder / HISTORIES / f"{name}.csv"

    @property
    def results(self) -> Path:
        return results_file(self.folder, self.spec)


def results_file(folder: Path, spec: DatasetSpec) -> Path:
    return Path(folder) / f"RESULTS_{spec.name.upper()}.md"


def dataset_folder(spec: DatasetSpec) -> Path:
    """``CIFAR10/``: the dataset's scripts, committed results, figures and histories."""
    return REPO / spec.scripts


def published_folder(spec: DatasetSpec) -> Path:
    """``CIFAR10/published/``: the published networks and their SHA256SUMS."""
    return dataset_folder(spec) / PUBLISHED


def spiking_script(spec: DatasetSpec) -> str:
    """``CIFAR10/Spiking_VGG_CIFAR10.py``: the command that makes a missing log (messages name it)."""
    return f"{spec.scripts}/Spiking_{spec.script_name}.py"
