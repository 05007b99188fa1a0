"""Runs the spiking network on the test set beside the quantized ANN from the same npz; logs and statistics.

Logs in the original's format and ``stats.json`` (:mod:`quant_snn.spiking_logs`); firing rates are spikes /
(neurons * 2^k*B) per time step; spike and SOP figures per image add up all time steps.
"""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from .architecture import Architecture
from .atomic import check_replaceable, writable_folder
from .augment import preprocess_test
from .data import Dataset, load_dataset, test_set_sha256
from .datasets import dataset_spec
from .errors import UserError
from .flag_checks import check_noise_ratio
from .model import build_network, conv_layers
from .names import NetworkName
from .paths import repo_relative
from .precision import compile_for_inference, use_full_float32
from .quant_config import QuantConfig
from .seeding import check_seed
from .spiking_logs import (
    LOG_FILES,
    LOG_NAMES,
    STATS_FILE,
    STATS_VERSION,
    LayerStats,
    RunRecord,
    SpikingStats,
    log_dir_name,
    write_logs,
)
from .spiking_utils import NOISE_LAYERS, SpikingNetwork, build_spiking_model
from .weights import assign_params, load_npz, unconfirmed


@dataclass
class SpikingRunConfig:
    dataset: str
    quant: QuantConfig
    npz: Path
    data_dir: Path
    figs_dir: Path
    batch_size: int | None = None  # default: the dataset's original (DatasetSpec.snn_batch_size)
    time_steps: int = 1
    noise_ratio: float = 0.0
    noise_layers: str = "first"
    seed: int = 0
    limit: int | None = None  # evaluate only the first ``limit`` test images
    xla: bool = True  # compile with XLA on TensorFlow and JAX
    arch: Architecture | None = None  # the network (default: the dataset's; tests run small variants)
    label: str | None = None  # the network's label (quant_snn.names): logs in figs/k1B2_<label>/

    def __post_init__(self) -> None:
        self.arch = self.arch or dataset_spec(self.dataset).architecture
        self.batch_size = dataset_spec(self.dataset).snn_batch_size if self.batch_size is None else self.batch_size
        self.name = str(NetworkName(self.quant, self.label))
        if not self.quant.quantized:
            raise UserError("the spiking network needs a quantized configuration (k and B)")
        if self.batch_size < 1:
            raise UserError(f"--batch_size must be at least 1, got {self.batch_size}")
        if self.time_steps < 1:
            raise UserError(f"--time_steps must be at least 1, got {self.time_steps}")
        check_noise_ratio(self.noise_ratio)
        if self.noise_layers not in NOISE_LAYERS:
            raise UserError(f"--noise_layers must be one of {', '.join(NOISE_LAYERS)}")
        check_seed(self.seed)
        if self.limit is not None and self.limit < 1:
            raise UserError(f"--limit must be at least 1, got {self.limit}")
        self.npz, self.data_dir, self.figs_dir = Path(self.npz), Path(self.data_dir), Path(self.figs_dir)

    @property
    def log_dir(self) -> Path:
        return self.figs_dir / log_dir_name(self.name, self.noise_ratio)


@dataclass
class Tally:
    """Running totals over the test set."""

    n_layers: int
    images: int = 0
    snn_correct: int = 0
    ann_correct: int = 0  # the exact ANN (float64 decisions, model.build_network(exact=True))
    differing: int = 0  # SNN against the exact ANN
    float32_ann_correct: int = 0  # the ANN as trained, evaluated in float32 (its sums depend on the order)
    float32_differing: int = 0
    spikes: np.ndarray = field(init=False)  # per layer, all time steps
    fan_in: np.ndarray = field(init=False)  # per layer after the first: sum(im2col(input spikes))
    log: dict = field(default_factory=lambda: {name: [] for name in LOG_NAMES})

    def __post_init__(self) -> None:
        self.spikes = np.zeros(self.n_layers, dtype=np.int64)
        self.fan_in = np.zeros(self.n_layers - 1, dtype=np.int64)


def original_sops(fan_in: np.ndarray, filters: np.ndarray, levels: int) -> np.ndarray:
    """The original's hardware accounting for every layer after the first: sum(im2col(input)) * n_filters * 2 *
    2^k * B."""
    return fan_in * filters * 2 * levels


def load_networks(cfg: SpikingRunConfig) -> tuple[dict[str, keras.Model], SpikingNetwork, dict]:
    """Build the quantized ANN twice (``exact``: float64 decisions, what the SNN must equal; ``float32``: as
    trained) and the spiking network from ``cfg.npz``, after checking it against the flags."""
    spec = dataset_spec(cfg.dataset)
    anns = {"float32": build_network(spec.n_classes, cfg.quant, cfg.arch)}
    params, info = load_npz(cfg.npz, anns["float32"], dataset=cfg.dataset, quant=cfg.quant, arch=cfg.arch)
    anns["exact"] = build_network(spec.n_classes, cfg.quant, cfg.arch, exact=True)
    assign_params(anns["exact"], params)
    for conv in (conv for ann in anns.values() for conv in conv_layers(ann)):
        conv.freeze_quantized_kernel()  # not recomputed per batch (the same bits: the kernels are ternary)
        conv.matmul_max_input = 0  # forward only: the native convolution is the faster one (layers.QuantConv2D)
    snn = build_spiking_model(
        params, cfg.quant, arch=cfg.arch, noise_ratio=cfg.noise_ratio, noise_layers=cfg.noise_layers, seed=cfg.seed
    )
    return anns, snn, {"epochs": info.epochs, "test_accuracy": info.test_accuracy, "sha256": info.sha256,
                       "warnings": [w for w in [unconfirmed(cfg.npz, info, cfg.quant)] if w]}


def simulate_batch(snn: SpikingNetwork, images: np.ndarray, time_steps: int):
    """Yield (accumulated potential, spikes per layer, fan-in per layer) after every time step.

    The input current is the image at t = 0 and zero afterwards (the original's multi-step behaviour); the
    output layer's potential accumulates over time.
    """
    to_numpy = keras.ops.convert_to_numpy
    potential = None
    for t in range(time_steps):
        current = images if t == 0 else np.zeros_like(images)
        step_potential, spikes, fan_in = snn.model.predict_on_batch(current)
        potential = step_potential if potential is None else potential + step_potential
        yield to_numpy(potential), [to_numpy(s) for s in spikes], [to_numpy(f) for f in fan_in]


AnnCache = dict[tuple, tuple[np.ndarray, np.ndarray]]


def ann_key(cfg: SpikingRunConfig, npz_sha256: str, x_test: np.ndarray) -> tuple:
    """Everything the two ANNs' decisions depend on: the weights (by hash), the images (by hash), and what may move
    a float32 sum across a decision (batch size, XLA, backend, network). Not the SNN's noise, seed or time steps."""
    images = hashlib.sha256(np.ascontiguousarray(x_test).tobytes()).hexdigest()
    return (npz_sha256, images, x_test.shape, cfg.batch_size, cfg.xla, keras.backend.backend(), cfg.arch)


def run_spiking(cfg: SpikingRunConfig, data: Dataset | None = None, ann_cache: AnnCache | None = None) -> SpikingStats:
    """Evaluate SNN and ANN on the test set; write logs and ``stats.json``; return the statistics.

    ``ann_cache``: one dict handed to runs of the same npz on the same images that differ only in the SNN (a noise
    sweep): the exact and float32 ANNs' per-image decisions are computed by the first run and reused by the others,
    which then run the SNN alone instead of all three networks per batch."""
    use_full_float32()
    anns, snn, npz_info = load_networks(cfg)
    data = data or load_dataset(dataset_spec(cfg.dataset), cfg.data_dir)
    writable_folder(cfg.log_dir, "log folder")  # inputs first, then the output: before the evaluation
    check_replaceable(tuple(cfg.log_dir / name for name in (*LOG_FILES, STATS_FILE)))
    x_test, y_test = data.x_test[: cfg.limit], data.y_test[: cfg.limit]
    for model in [*anns.values(), snn.model]:
        compile_for_inference(model, xla=cfg.xla)
    filters = np.array([spec.filters for spec in snn.convs[1:]], dtype=np.int64)
    levels = cfg.quant.n_thresholds
    tally = Tally(len(snn.convs))
    key = ann_key(cfg, npz_info["sha256"], x_test) if ann_cache is not None else None
    cached = ann_cache.get(key) if ann_cache is not None else None
    decisions: dict[str, list[np.ndarray]] = {"exact": [], "float32": []}
    start = time.perf_counter()
    progress = keras.utils.Progbar(len(x_test), unit_name="image", verbose=1 if sys.stdout.isatty() else 2)
    for begin in range(0, len(x_test), cfg.batch_size):
        images = keras.ops.convert_to_numpy(preprocess_test(x_test[begin : begin + cfg.batch_size], cfg.arch))
        labels = y_test[begin : begin + cfg.batch_size]
        if cached is not None:
            ann_prediction, float32_prediction = (c[begin : begin + len(labels)] for c in cached)
        else:
            ann_prediction, float32_prediction = (
                np.argmax(keras.ops.convert_to_numpy(anns[name].predict_on_batch(images)), axis=1)
                for name in ("exact", "float32"))
            decisions["exact"].append(ann_prediction)
            decisions["float32"].append(float32_prediction)
        for potential, spikes, fan_in in simulate_batch(snn, images, cfg.time_steps):
            spikes = np.array([np.rint(s).astype(np.int64).sum() for s in spikes])  # exact integers per image
            fan_in = np.array([np.rint(f).astype(np.int64).sum() for f in fan_in])
            prediction = np.argmax(potential, axis=1)
            tally.log["accuracy"].append(int((prediction == labels).sum()))
            tally.log["spike_num"].append(int(spikes.sum()))
            tally.log["sop_num"].append(int(original_sops(fan_in, filters, levels).sum()))
            tally.spikes += spikes
            tally.fan_in += fan_in
        tally.images += len(labels)
        tally.snn_correct += int((prediction == labels).sum())
        tally.ann_correct += int((ann_prediction == labels).sum())
        tally.differing += int((prediction != ann_prediction).sum())
        tally.float32_ann_correct += int((float32_prediction == labels).sum())
        tally.float32_differing += int((prediction != float32_prediction).sum())
        progress.add(len(labels))
    stats = summarize(cfg, snn, tally, time.perf_counter() - start, npz_info, test_set_sha256(x_test, y_test))
    write_logs(cfg.log_dir, tally.log, stats)
    if ann_cache is not None and cached is None:
        ann_cache[key] = (np.concatenate(decisions["exact"]), np.concatenate(decisions["float32"]))
    return stats


def summarize(cfg: SpikingRunConfig, snn: SpikingNetwork, tally: Tally, seconds: float,
              npz_info: dict, test_sha256: str) -> SpikingStats:
    """The run's stats.json record from its totals (numbers as Python ints and floats, as the file holds them)."""
    n, images = cfg.quant.n_thresholds, tally.images
    filters = np.array([spec.filters for spec in snn.convs[1:]], dtype=np.int64)
    sops = np.concatenate([[0], original_sops(tally.fan_in, filters, n)])
    conventional = np.concatenate([[0], tally.fan_in * filters])
    dense_conventional = int(tally.spikes[-1]) * snn.n_classes  # every last-layer spike reaches every class
    macs = snn.ann_macs_per_layer()
    layers = [
        LayerStats(
            name=spec.name, shape=[int(d) for d in shape], neurons=int(neurons),
            spikes_per_image=float(tally.spikes[i] / images),
            firing_rate=float(tally.spikes[i] / (neurons * n * images * cfg.time_steps)),
            sops_per_image=float(sops[i] / images), conventional_sops_per_image=float(conventional[i] / images),
            ann_macs_per_image=int(macs[i]),
        )
        for i, (spec, shape, neurons) in enumerate(zip(snn.convs, snn.layer_shapes, snn.neurons_per_layer))
    ]
    layers.append(LayerStats(name="dense", conventional_sops_per_image=dense_conventional / images,
                             ann_macs_per_image=int(macs[-1])))
    backend = keras.backend.backend()
    return SpikingStats(
        config=RunRecord(
            stats_version=STATS_VERSION, dataset=cfg.dataset, network=cfg.arch.name, k=cfg.quant.k, B=cfg.quant.B,
            thresholds_per_neuron=n, npz=repo_relative(cfg.npz), npz_epochs=npz_info["epochs"],
            npz_sha256=npz_info["sha256"], batch_size=cfg.batch_size, time_steps=cfg.time_steps,
            noise_ratio=cfg.noise_ratio, noise_layers=cfg.noise_layers, seed=cfg.seed, images=images,
            test_sha256=test_sha256,
            backend=backend, keras=keras.__version__, xla=cfg.xla and backend in ("tensorflow", "jax"),
        ),
        warnings=list(npz_info["warnings"]),  # e.g. weights whose file cannot confirm k and B
        snn_accuracy=tally.snn_correct / images,
        ann_accuracy=tally.ann_correct / images,
        differing_images=tally.differing,
        float32_ann_accuracy=tally.float32_ann_correct / images,
        float32_differing_images=tally.float32_differing,
        spikes_per_image=int(tally.spikes.sum()) / images,
        sops_per_image=float(sops.sum()) / images,
        conventional_sops_per_image=(float(conventional.sum()) + dense_conventional) / images,
        ann_macs_per_image=int(sum(macs)),
        spiking_neurons=int(sum(snn.neurons_per_layer)),
        images_per_second=images / seconds,
        layers=layers,
    )

