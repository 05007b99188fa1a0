"""The settings of one ``reproduce`` run, checked before any work: which networks, noise ratios, recipe, epochs,
folders, and where networks trained elsewhere come from (``--weights``, ``--trained_on``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .architecture import Architecture
from .datasets import DEFAULT_NOISE, DEFAULT_TABLE, dataset_spec
from .errors import UserError
from .flag_checks import check_noise_ratio
from .layout import results_file
from .names import parse_name
from .paths import REPO


@dataclass
class ReproduceConfig:
    dataset: str = "cifar10"
    configs: list[str] = field(default_factory=lambda: list(DEFAULT_TABLE))
    noise: list[float] = field(default_factory=lambda: list(DEFAULT_NOISE))
    epochs: int = 400
    data_dir: Path = REPO / "data"
    output_dir: Path | None = None
    batch_size: int | None = None  # default: the original's for the dataset (200 CIFAR, 128 MNIST)
    snn_batch_size: int | None = None  # default: the original's (50 CIFAR, 200 MNIST)
    seed: int = 0
    limit: int | None = None
    verbose: int = 2
    distribute: bool = False
    cpu_devices: int | None = None
    precision: str = "float32"
    steps_per_execution: int = 1
    loop: str = "fit"  # fit or device (JAX): quant_snn.device_loop
    recipe: str = "original"
    training: dict = field(default_factory=dict)  # flags given on the command line (None where left out)
    train_only: bool = False
    noise_configs: list[str] | None = None  # noisy SNN runs only for these (default: every quantized one)
    trained_on: list[str] = field(default_factory=list)  # where training ran: "TEXT" (every row) or "NAME=TEXT"
    weights: Path | None = None  # take the networks from this folder (else from output_dir) and train nothing
    arch: Architecture | None = None  # the network, None: the dataset's (tests run small variants)

    def __post_init__(self) -> None:
        from .recipes import expand_recipe

        spec = dataset_spec(self.dataset)
        self.arch = self.arch or spec.architecture
        self.batch_size = spec.batch_size if self.batch_size is None else self.batch_size
        self.snn_batch_size = spec.snn_batch_size if self.snn_batch_size is None else self.snn_batch_size
        for flag, value in (("--batch_size", self.batch_size), ("--snn_batch_size", self.snn_batch_size),
                            ("--steps_per_execution", self.steps_per_execution)):
            if value < 1:  # checked here, before any training, under the flag's own name
                raise UserError(f"{flag} must be at least 1, got {value}")
        from .device_loop import check_loop

        check_loop(self.loop, self.distribute)
        settings = expand_recipe(self.recipe, {**self.training, "epochs": None}, spec.network)
        settings.pop("epochs")
        self.settings = settings  # optimizer, schedule, learning_rate, warmup_epochs, weight_decay, label_smoothing,
        # and restart_epoch, restart_learning_rate where the recipe or the flags set them
        self.networks = {name: parse_name(name) for name in self.configs}
        if not self.configs:
            raise UserError("--configs names no configuration (e.g. --configs fp32,k1B2)")
        if self.epochs < 1:
            raise UserError(f"--epochs must be at least 1, got {self.epochs}")
        if self.limit is not None and self.limit < 1:
            raise UserError(f"--limit must be at least 1, got {self.limit}")
        from .seeding import check_seed

        check_seed(self.seed)
        for ratio in self.noise:
            check_noise_ratio(ratio, "--noise ratios")
        if 0 not in self.noise:
            raise UserError("--noise must include 0, the noiseless run that the table and the figures need "
                            "(e.g. --noise 0,0.1,0.2)")
        unknown = sorted(set(self.noise_configs or ()) - set(self.configs))
        if unknown:
            raise UserError(f"--noise_configs {','.join(unknown)} not among --configs {','.join(self.configs)}")
        # never the committed results by default: those are rewritten only when asked for (--output_dir CIFAR10)
        self.output_dir = Path(self.output_dir or REPO / "runs" / self.dataset)
        self.data_dir = Path(self.data_dir)
        self.trained_where = parse_trained_on(self.trained_on, self.configs)
        if self.weights is not None:
            self.weights = Path(self.weights)
            if not self.weights.is_dir():
                raise UserError(f"--weights {self.weights}: no such folder")
            if self.train_only:
                raise UserError("--weights trains nothing: --train_only True has nothing to do")

    def noise_for(self, name: str) -> list[float]:
        """Noise ratios of the spiking runs of the network ``name`` (always 0; the noisy ones if chosen for it)."""
        if self.noise_configs is None or name in self.noise_configs:
            return self.noise
        return [p for p in self.noise if p == 0]

    @property
    def results_path(self) -> Path:
        return results_file(self.output_dir, dataset_spec(self.dataset))


def parse_trained_on(entries: Sequence[str], names: Sequence[str]) -> dict[str | None, str]:
    """``--trained_on`` entries, each ``NAME=TEXT`` (the row of the network NAME, one of ``names``) or ``TEXT``
    (every other row), as a dict keyed by network name (None: every other row)."""
    where: dict[str | None, str] = {}
    for entry in entries:
        name, sep, text = entry.partition("=")
        key = name.strip() if sep and name.strip() in names else None
        text = (text if key is not None else entry).strip()
        if not text:
            raise UserError(f"--trained_on {entry!r} says nothing about where the network was trained")
        if key in where:
            raise UserError(f"--trained_on given twice for {key or 'every row'}")
        where[key] = text
    return where
