"""The spiking-run log format, in one place: written by ``spiking_eval``, read by ``figures`` and ``reproduce``.

A run's folder is ``figs/k{k}B{B}/`` (noisy runs ``figs/k{k}B{B}_noise{p}/``, so they never overwrite the clean
logs). The original's per-batch logs, one line per batch per time step: ``accuracy.txt`` (correct predictions in
the batch), ``spike_num.txt`` (spikes of all conv layers), ``sop_num.txt`` (SOPs, the original's
accounting). ``stats.json`` (:class:`SpikingStats`) adds per-layer spikes, firing rates, both SOP counts, the ANN's
MACs and the run's configuration; logs from the original code (no ``stats.json``) are read as batches of 50 at one
time step.
"""

from __future__ import annotations

import functools
import json
import reprlib
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path

from .atomic import atomic_write_folder
from .errors import UserError

LOG_NAMES = ("accuracy", "spike_num", "sop_num")
LOG_FILES = tuple(f"{name}.txt" for name in LOG_NAMES)
STATS_FILE = "stats.json"
# Bumped when the statistics change meaning, so that reproduce redoes older runs (2: "ann_accuracy" and
# "differing_images" against the exact ANN, float32 ANN figures beside them; first layer summed in float64;
# 3: test images standardized exactly, augment.standardize_pixels).
STATS_VERSION = 3


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """The ``config`` section of stats.json: what was run, so that reproduce can tell whether the logs are current.

    Version-2 files predate ``network`` (they are all VGG-Net runs) and ``xla`` (None: not recorded); files
    without ``test_sha256`` do not say which copy of the data they ran on, so reproduce redoes them."""

    stats_version: int  # the record's own version (no default: a file without one is of no known format)
    dataset: str
    network: str = "vgg"
    k: int
    B: float
    thresholds_per_neuron: int
    npz: str
    npz_epochs: int | None  # None: an original-format npz, which records no epochs
    npz_sha256: str | None
    batch_size: int
    time_steps: int
    noise_ratio: float
    noise_layers: str
    seed: int
    images: int
    test_sha256: str | None = None  # data.test_set_sha256 of the images run; None in files written before it
    backend: str
    keras: str
    xla: bool | None = None

    def __post_init__(self) -> None:
        # per-image figures and the logs' batch count are divided by these
        if self.images < 1:
            raise ValueError(f"config.images is {self.images!r}, not at least 1")
        if self.time_steps < 1:
            raise ValueError(f"config.time_steps is {self.time_steps!r}, not at least 1")


@dataclass(frozen=True, kw_only=True)
class LayerStats:
    """One layer's figures per image; the dense layer (no spikes of its own) has only its name, fan-out SOPs and
    MACs, so the fields between are None there and left out of the file."""

    name: str
    shape: list[int] | None = None
    neurons: int | None = None
    spikes_per_image: float | None = None
    firing_rate: float | None = None
    sops_per_image: float | None = None
    conventional_sops_per_image: float
    ann_macs_per_image: int


@dataclass(frozen=True, kw_only=True)
class SpikingStats:
    """A run's ``stats.json``: the field order is the file's key order, so a record rewritten is byte-identical."""

    config: RunRecord
    warnings: list[str] = field(default_factory=list)  # e.g. weights whose file cannot confirm k and B
    snn_accuracy: float
    ann_accuracy: float  # the exact ANN (float64 decisions) from the same npz
    differing_images: int  # SNN against the exact ANN
    float32_ann_accuracy: float  # the ANN as trained, in float32
    float32_differing_images: int
    spikes_per_image: float
    sops_per_image: float  # the original's accounting
    conventional_sops_per_image: float  # fan-out
    ann_macs_per_image: int
    spiking_neurons: int
    images_per_second: float
    layers: list[LayerStats]

    def to_json(self) -> str:
        """The file's text: indent 2, a trailing newline."""
        return json.dumps(_to_plain(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SpikingStats:
        """Parse and check a stats.json; ValueError with a short reason on anything that is not such a record."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"not JSON ({str(exc) or type(exc).__name__})") from None
        return _conform(data, cls, "")


def _to_plain(value):
    """Dataclasses as dicts in field order (LayerStats without its None fields, a record without its data digest
    as before there was one), lists as lists."""
    if is_dataclass(value):
        return {f.name: _to_plain(getattr(value, f.name)) for f in fields(value)
                if not (getattr(value, f.name) is None and (isinstance(value, LayerStats) or f.name == "test_sha256"))}
    if isinstance(value, list):
        return [_to_plain(v) for v in value]
    return value


@functools.cache
def _hints(cls: type) -> dict[str, object]:
    return typing.get_type_hints(cls)


def _conform(value, kind, where: str):
    """``value`` (parsed JSON) checked against the type ``kind``; dataclasses built from their dicts. Numbers are
    kept as parsed (an int where a float goes stays an int), so that the text written back is the same."""
    name = where or "the record"
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        if value is None and len(options) < len(typing.get_args(kind)):
            return None
        [kind] = options
    if typing.get_origin(kind) is list:
        if not isinstance(value, list):
            raise ValueError(f"{name} is {reprlib.repr(value)}, not a list")
        [item] = typing.get_args(kind)
        return [_conform(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if is_dataclass(kind):
        if not isinstance(value, dict):
            raise ValueError(f"{name} is {reprlib.repr(value)}, not an object")
        unknown = set(value) - {f.name for f in fields(kind)}
        if unknown:
            raise ValueError(f"{name} has the unknown entry {sorted(unknown)[0]!r}")
        given = {}
        for f in fields(kind):
            inner = f"{where}.{f.name}" if where else f.name
            if f.name in value:
                given[f.name] = _conform(value[f.name], _hints(kind)[f.name], inner)
            elif f.default is MISSING and f.default_factory is MISSING:
                raise ValueError(f"no entry '{inner}'")
        return kind(**given)
    accepted = {float: (int, float), int: (int,), str: (str,), bool: (bool,)}[kind]
    if not isinstance(value, accepted) or (isinstance(value, bool) and kind is not bool):
        what = {float: "a number", int: "a whole number", str: "a string", bool: "true or false"}[kind]
        raise ValueError(f"{name} is {reprlib.repr(value)}, not {what}")
    return value


NOISE_SUFFIX = "_noise"


def log_dir_name(name: str, noise_ratio: float) -> str:
    """``k1B2`` (noiseless) or ``k1B2_noise0.1``: the folder of one spiking run (``name``: a network name of
    :mod:`quant_snn.names`, ``k1B2_fast60_noise0.1`` for a labelled one)."""
    return name + (f"{NOISE_SUFFIX}{noise_ratio:g}" if noise_ratio > 0 else "")


def parse_log_dir_name(name: str) -> tuple[str, float] | None:
    """:func:`log_dir_name` read back: (network name, noise ratio), or None for another name."""
    from .names import is_spiking_name

    tag, _, noise = name.partition(NOISE_SUFFIX)
    if not is_spiking_name(tag):
        return None
    if not noise:
        return (tag, 0.0) if NOISE_SUFFIX not in name else None
    try:
        ratio = float(noise)
    except ValueError:
        return None
    return (tag, ratio) if 0 < ratio < 1 else None


def write_logs(log_dir: Path, per_batch: dict[str, list[int]], stats: SpikingStats) -> None:
    """The three per-batch logs (keys of LOG_NAMES) and stats.json, the folder replaced whole or not at all (a full
    disk never leaves new logs beside an old record)."""
    files = {f"{name}.txt": "".join(f"{int(v)}\n" for v in per_batch[name]).encode() for name in LOG_NAMES}
    atomic_write_folder(log_dir, {**files, STATS_FILE: stats.to_json().encode()})


def read_stats(log_dir: Path) -> SpikingStats | None:
    """A run's stats.json; None when it is absent, or damaged (a run whose record cannot be read is redone)."""
    try:
        return SpikingStats.from_json((log_dir / STATS_FILE).read_text())
    except (OSError, ValueError):
        return None


@dataclass
class RunLogs:
    """Totals of one spiking run, averaged over its test images."""

    tag: str
    images: int
    time_steps: int
    accuracy: float  # SNN accuracy at the last time step
    spikes_per_image: float
    sops_per_image: float
    stats: SpikingStats | None

    @property
    def ann_accuracy(self) -> float | None:
        return None if self.stats is None else self.stats.ann_accuracy


def read_logs(log_dir: Path) -> RunLogs:
    """The totals of one run's logs (the original's, without stats.json, are batches of 50 over one time step)."""

    def damaged(why: str) -> UserError:
        return UserError(f"cannot read the logs in {log_dir} ({why}); run the spiking script again")

    try:
        values = {name: [int(float(v)) for v in (log_dir / f"{name}.txt").read_text().split()] for name in LOG_NAMES}
    except (ValueError, OSError, OverflowError) as exc:  # OverflowError: an "inf" line
        raise damaged(str(exc)) from None
    stats = None
    if (log_dir / STATS_FILE).exists():
        try:
            stats = SpikingStats.from_json((log_dir / STATS_FILE).read_text())
        except (ValueError, OSError) as exc:
            raise damaged(f"{STATS_FILE}: {exc}") from None
    steps = stats.config.time_steps if stats else 1
    images = stats.config.images if stats else 50 * (len(values["accuracy"]) // steps)
    lengths = {len(v) for v in values.values()}
    if images < 1 or len(lengths) != 1 or lengths == {0} or next(iter(lengths)) % steps:
        raise damaged(f"{' / '.join(f'{len(v)}' for v in values.values())} lines in {', '.join(LOG_FILES)} for "
                      f"{images} images over {steps} time steps")
    last_step = values["accuracy"][steps - 1 :: steps]
    return RunLogs(log_dir.name, images, steps, sum(last_step) / images, sum(values["spike_num"]) / images,
                   sum(values["sop_num"]) / images, stats)
