"""Training and evaluation of a quantized or FP32 network with ``model.fit``, one checkpoint per epoch."""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from .architecture import VGG, Architecture
from .atomic import remove_stale_temporaries, writable_folder
from .augment import Preprocess
from .checkpoint import checkpoint_state, load_checkpoint
from .data import Dataset, load_dataset
from .datasets import dataset_spec
from .device_loop import check_loop, fit_on_device
from .distribute import DataParallel, check_batch, data_parallel, single_device
from .epoch_end import EpochCheckpoint, NpzTest
from .errors import UserError
from .flag_checks import check_cpu_devices
from .layout import RunLayout
from .model import build_network
from .optim import check_optimizer, make_loss, make_optimizer
from .precision import check_precision, dtype_policy
from .quant_config import QuantConfig
from .recipes import recipe_flags, recipe_for
from .run_lock import exclusive_run
from .schedules import StepSchedule, check_schedule
from .seeding import MAX_EPOCHS, check_seed, set_seed
from .weights import assign_params, load_npz, read_npz

ORIGINAL = recipe_for("original")  # the VGG-Net's original recipe: RunConfig's defaults


@dataclass
class RunConfig:
    """Everything one training or inference run needs; the scripts fill it from their flags."""

    dataset: str
    quant: QuantConfig
    data_dir: Path
    output_dir: Path
    mode: str = "training"
    resume: bool = False
    learning_rate: float = ORIGINAL["learning_rate"]
    epochs: int = ORIGINAL["epochs"]
    batch_size: int | None = None  # default: the dataset's original (DatasetSpec.batch_size)
    seed: int = 0
    verbose: int | str = "auto"
    inference_npz: Path | None = None  # --mode inference --npz FILE: evaluate this file instead of the run's own
    distribute: bool = False  # data-parallel over all local devices
    cpu_devices: int | None = None  # split the CPU into this many logical devices (try --distribute without GPUs)
    precision: str = "float32"  # training compute precision; evaluation is always float32
    steps_per_execution: int = 1  # steps per call: compiled as one on TensorFlow and with loop device
    loop: str = "fit"  # fit: Keras' model.fit; device (JAX): the training set on the device, steps called directly
    optimizer: str = ORIGINAL["optimizer"]  # adam (the original) or sgd (Nesterov momentum 0.9)
    schedule: str = ORIGINAL["schedule"]  # constant (the original), cosine or onecycle, per step over --epochs
    warmup_epochs: float = ORIGINAL["warmup_epochs"]  # cosine / onecycle: epochs of linear warm-up
    weight_decay: float = ORIGINAL["weight_decay"]  # decoupled weight decay (not on batch-norm scales and offsets)
    label_smoothing: float = ORIGINAL["label_smoothing"]
    init_npz: Path | None = None  # start a new run from these weights (e.g. a trained FP32 npz)
    restart_epoch: int = 0  # cosine / onecycle: a warm restart of the schedule after this epoch (0: none)
    restart_learning_rate: float | None = None  # the restarted schedule's peak
    overwrite: bool = False  # --resume False over an earlier run: move its files aside instead of refusing
    arch: Architecture | None = None  # the network (default: the dataset's; tests train small variants)
    label: str | None = None  # the network's label (quant_snn.names): model_cifar_10_k1B2_<label>.npz and its files

    def __post_init__(self) -> None:
        from .names import NetworkName

        self.arch = self.arch or dataset_spec(self.dataset).architecture
        self.batch_size = dataset_spec(self.dataset).batch_size if self.batch_size is None else self.batch_size
        NetworkName(self.quant, self.label)  # a label that cannot name files is refused here
        if self.mode not in ("training", "inference"):
            raise UserError(f"unknown --mode {self.mode!r}: use training or inference")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise UserError(f"--learning_rate must be a positive number, got {self.learning_rate}")
        if self.epochs < 1:
            raise UserError(f"--epochs must be at least 1, got {self.epochs}")
        if self.epochs > MAX_EPOCHS:
            raise UserError(f"--epochs must be at most {MAX_EPOCHS}, got {self.epochs}")
        if self.batch_size < 1:
            raise UserError(f"--batch_size must be at least 1, got {self.batch_size}")
        if self.steps_per_execution < 1:
            raise UserError(f"--steps_per_execution must be at least 1, got {self.steps_per_execution}")
        if self.steps_per_execution > 1 and keras.backend.backend() == "torch":
            raise UserError("--steps_per_execution above 1 needs the TensorFlow or JAX backend (Keras runs one step "
                            "per call on PyTorch)")
        check_loop(self.loop, self.distribute)
        check_seed(self.seed)
        check_precision(self.precision)
        check_optimizer(self.optimizer, self.weight_decay, self.label_smoothing)
        check_schedule(self.schedule, self.learning_rate, 1 << 30, 0)
        if not self.warmup_epochs >= 0 or (self.schedule != "constant" and self.warmup_epochs >= self.epochs):
            raise UserError(f"--warmup_epochs must be from 0 to less than --epochs, got {self.warmup_epochs}")
        if self.schedule == "constant" and self.warmup_epochs:
            raise UserError("--warmup_epochs needs --schedule cosine or onecycle")
        self.restart_epoch = self.restart_epoch or 0
        if self.restart_epoch or self.restart_learning_rate is not None:
            if self.restart_learning_rate is None or not self.restart_epoch:
                raise UserError("--restart_epoch and --restart_learning_rate go together (for no restart, use a "
                                "recipe without one, e.g. --recipe fast)")
            if not 0 < self.restart_epoch < self.epochs:
                raise UserError(f"--restart_epoch must be from 1 to less than --epochs, got {self.restart_epoch}")
            check_schedule(self.schedule, self.learning_rate, self.epochs, self.warmup_epochs, self.restart_epoch,
                           self.restart_learning_rate)
        if self.init_npz is not None and self.resume:
            raise UserError("--init_npz starts a new run: it cannot be combined with --resume True")
        check_cpu_devices(self.cpu_devices)
        self.data_dir = Path(self.data_dir)
        self.output_dir = Path(self.output_dir)

    @property
    def files(self) -> RunLayout:
        return RunLayout.of(self.output_dir, self.dataset, self.quant, self.label)

    @property
    def stem(self) -> str:
        return self.files.stem

    @property
    def npz_path(self) -> Path:
        return self.files.npz

    @property
    def checkpoint_path(self) -> Path:
        return self.files.checkpoint

    @property
    def history_path(self) -> Path:
        return self.files.history

    def describe(self) -> dict:
        """The JSON-able part stored in checkpoints."""
        return {"dataset": self.dataset, "config": self.quant.tag, "batch_size": self.batch_size, "seed": self.seed,
                "precision": self.precision, "distribute": self.distribute, "training": self.training()}

    @property
    def scheduled(self) -> bool:
        """A decaying schedule spans the whole of ``--epochs``; a resumed run finishes it."""
        return self.schedule != "constant"

    def training(self) -> dict:
        """The optimisation settings a resumed run must share with the checkpoint (for a constant schedule the
        learning rate may change: the original recipe's second phase)."""
        return {"optimizer": self.optimizer, "schedule": self.schedule, "weight_decay": self.weight_decay,
                "label_smoothing": self.label_smoothing,
                **({"learning_rate": self.learning_rate, "epochs": self.epochs, "warmup_epochs": self.warmup_epochs}
                   if self.scheduled else {}), **self.restart()}

    def restart(self) -> dict:
        """The warm-restart settings, empty without one (so older checkpoints keep matching)."""
        if not self.restart_epoch:
            return {}
        return {"restart_epoch": self.restart_epoch, "restart_learning_rate": self.restart_learning_rate}

    def first_cycle_training(self) -> dict | None:
        """With a restart: the settings of a run that ends where the restart begins. Its checkpoint, up to that
        epoch, has followed this run's schedule step for step, so it may continue as this run."""
        if not self.restart_epoch:
            return None
        first = {key: value for key, value in self.training().items() if key not in self.restart()}
        return {**first, "epochs": self.restart_epoch}

    def flags(self) -> str:
        """The command-line flags of these settings (printed, and written into the results)."""
        settings = {"optimizer": self.optimizer, "schedule": self.schedule, "learning_rate": self.learning_rate,
                    **({"epochs": self.epochs, "warmup_epochs": self.warmup_epochs} if self.scheduled else {}),
                    "weight_decay": self.weight_decay, "label_smoothing": self.label_smoothing, **self.restart()}
        return recipe_flags(settings) + (f" --init_npz {self.init_npz}" if self.init_npz else "")


def build_training_model(
    n_classes: int, quant: QuantConfig, seed: int, parallel: DataParallel | None = None, precision: str = "float32",
    arch: Architecture | None = None, pixels: tuple[int, int, int] = (32, 32, 3),
) -> tuple[keras.Model, keras.Model]:
    """Return (pixels -> logits model with in-graph preprocessing, the core network that the npz describes);
    ``arch`` defaults to the VGG-Net, ``pixels`` is the shape of one stored image.

    Build it inside ``parallel.scope()``. Preprocessing always runs in float32; ``precision`` applies to the core.
    """
    arch = arch or VGG
    parallel = parallel or single_device()
    preprocess = Preprocess(size=arch.input_shape[0], seed=seed, preprocessing=arch.preprocessing, dtype="float32")
    preprocess.replica_context = parallel.replica_context
    with dtype_policy(precision):
        core = build_network(n_classes, quant, arch, synchronized_batchnorm=parallel.synchronized_batchnorm)
    full = keras.Sequential([keras.Input(pixels, name="pixels"), preprocess, core], name=f"{arch.name}_training")
    return full, core


def compile_model(
    model: keras.Model, learning_rate, optimizer: str = "adam", weight_decay: float = 0.0, label_smoothing: float = 0.0,
    steps_per_execution: int = 1,
) -> keras.optimizers.Optimizer:
    """Compile with the run's optimizer and loss; the defaults are the original's Adam and cross-entropy.
    ``steps_per_execution`` steps run per call of ``fit``'s step function (the same steps: on TensorFlow one compiled
    call, on JAX a Python loop around the compiled step)."""
    opt = make_optimizer(optimizer, learning_rate, weight_decay)
    model.compile(optimizer=opt, loss=make_loss(label_smoothing), metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    return opt


def learning_rate_for(cfg: RunConfig, train_size: int):
    """A float for the constant schedule (the original's optimizer exactly), else the per-step schedule."""
    if not cfg.scheduled:
        return cfg.learning_rate
    steps = math.ceil(train_size / cfg.batch_size)
    return StepSchedule(cfg.schedule, cfg.learning_rate, cfg.epochs * steps, round(cfg.warmup_epochs * steps),
                        cfg.restart_epoch * steps, cfg.restart_learning_rate)


def init_from_npz(cfg: RunConfig, core: keras.Model) -> None:
    """Load any npz of the same network and shapes (FP32 into a quantized net: the kernels become its latent
    weights)."""
    params, info = read_npz(cfg.init_npz)
    if info.dataset is not None and info.dataset != cfg.dataset:
        raise UserError(f"--init_npz {cfg.init_npz} was trained on {info.dataset}, not {cfg.dataset}")
    shapes = cfg.arch.param_shapes(dataset_spec(cfg.dataset).n_classes)
    got = [p.shape for p in params]
    if got != shapes:
        where = next((i for i, (a, b) in enumerate(zip(got, shapes)) if a != b), min(len(got), len(shapes)))
        raise UserError(f"--init_npz {cfg.init_npz} does not fit this {cfg.arch.title}: {len(got)} arrays, "
                        f"params[{where}] "
                        f"has shape {got[where] if where < len(got) else 'none'}, expected "
                        f"{shapes[where] if where < len(shapes) else 'none'}")
    assign_params(core, params)
    print(f"initialised from {cfg.init_npz} ({info.quant.tag if info.quant else 'original format'}, "
          f"{info.epochs if info.epochs is not None else '?'} epochs)")


def _as_float(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32)


def set_aside_previous_run(cfg: RunConfig) -> None:
    """A fresh start never overwrites an earlier run's files: without ``--overwrite True`` it stops with one line
    that says how to continue; with it, the files move into a time-stamped folder beside them."""
    existing = [p for p in (cfg.checkpoint_path, cfg.npz_path, cfg.history_path) if p.exists()]
    if not existing:
        return
    if not cfg.overwrite:
        names = ", ".join(p.name for p in existing)
        if not cfg.checkpoint_path.exists():  # e.g. a first epoch that ended on a full disk: nothing to resume
            raise UserError(f"{cfg.output_dir} holds files of a {cfg.stem} run without a checkpoint ({names}), so "
                            "it cannot be resumed: move them away to start anew (training with overwriting on moves "
                            "them aside)")
        raise UserError(f"{cfg.output_dir} already holds a {cfg.stem} run ({names}): "
                        "continue it with --resume True, or start anew with --overwrite True (its files are then "
                        "moved aside, not deleted)")
    aside = cfg.output_dir / f"replaced_{cfg.stem}_{time.strftime('%Y%m%d-%H%M%S')}"
    aside.mkdir(parents=True, exist_ok=False)
    for path in existing:
        os.replace(path, aside / path.name)
    print(f"starting anew (--overwrite True): the earlier run's files were moved to {aside}")


def train(cfg: RunConfig, data: Dataset | None = None) -> list[dict]:
    """Train for ``cfg.epochs`` more epochs (from scratch or from the checkpoint); returns the whole history."""
    spec = dataset_spec(cfg.dataset)
    data = data or load_dataset(spec, cfg.data_dir)
    parallel = data_parallel(cfg.cpu_devices) if cfg.distribute else single_device()
    check_batch(cfg.batch_size, parallel, sizes=(len(data.x_train), len(data.x_test)))
    if cfg.distribute:
        print(f"data-parallel over {parallel.replicas} devices: {', '.join(parallel.devices)}")
    writable_folder(cfg.output_dir, "--output_dir")
    with exclusive_run(cfg.output_dir, cfg.npz_path.stem):
        remove_stale_temporaries((cfg.npz_path, cfg.checkpoint_path, cfg.history_path))  # left by a killed run
        if not cfg.resume:
            set_aside_previous_run(cfg)
        set_seed(cfg.seed)
        with parallel.scope():
            return _train(cfg, data, spec.n_classes, parallel)


def _train(cfg: RunConfig, data: Dataset, n_classes: int, parallel: DataParallel) -> list[dict]:
    pixels = dataset_spec(cfg.dataset).pixels
    model, core = build_training_model(n_classes, cfg.quant, cfg.seed, parallel, cfg.precision, cfg.arch, pixels)
    optimizer = compile_model(model, learning_rate_for(cfg, len(data.x_train)), cfg.optimizer, cfg.weight_decay,
                              cfg.label_smoothing, cfg.steps_per_execution)
    start_epoch, history = 0, []
    if cfg.resume:
        if cfg.checkpoint_path.is_file():  # the settings first: another optimizer also has other variables
            check_resumable(cfg, checkpoint_state(cfg.checkpoint_path).get("config", {}))
        state = load_checkpoint(cfg.checkpoint_path, model, optimizer)
        start_epoch, history = int(state["epoch"]), list(state["history"])
        if not cfg.scheduled:
            optimizer.learning_rate = cfg.learning_rate
        elif start_epoch >= cfg.epochs:
            raise UserError(f"checkpoint {cfg.checkpoint_path} has finished the {cfg.epochs}-epoch {cfg.schedule} "
                            "schedule; nothing left to train")
        set_seed(cfg.seed + start_epoch)  # fresh shuffles, not a replay of epoch 1
        print(f"resuming {cfg.checkpoint_path} after epoch {start_epoch} with learning rate "
              + (f"{cfg.learning_rate:g}" if not cfg.scheduled else f"schedule {cfg.flags()}"))
    if cfg.init_npz is not None:
        init_from_npz(cfg, core)
    twin, twin_core = build_training_model(n_classes, cfg.quant, cfg.seed, parallel, arch=cfg.arch, pixels=pixels)
    compile_model(twin, cfg.learning_rate)  # plain cross-entropy: test losses compare across recipes
    test = NpzTest(twin, twin_core, _as_float(data.x_test), data.y_test, cfg.batch_size)
    end_epoch = cfg.epochs if cfg.scheduled else start_epoch + cfg.epochs
    callbacks = [EpochCheckpoint(cfg, core, history, test)]
    if cfg.loop == "device":
        fit_on_device(model, data.x_train, data.y_train, batch_size=cfg.batch_size, epochs=end_epoch,
                      initial_epoch=start_epoch, steps_per_call=cfg.steps_per_execution, callbacks=callbacks,
                      verbose=cfg.verbose)
        return history
    model.fit(
        _as_float(data.x_train),
        data.y_train,
        batch_size=cfg.batch_size,
        epochs=end_epoch,
        initial_epoch=start_epoch,
        shuffle=True,
        callbacks=callbacks,
        verbose=cfg.verbose,
    )
    return history


def check_resumable(cfg: RunConfig, saved: dict) -> None:
    """Refuse a checkpoint of another dataset, configuration or optimisation settings, in one line. A run with a
    warm restart also takes the checkpoint of its first cycle alone (``fast`` into ``fast60``): that run stops at the
    restart, so its steps are this run's. A decaying schedule counts steps, so the batch size must match too."""
    if (saved.get("dataset"), saved.get("config")) != (cfg.dataset, cfg.quant.tag):
        raise UserError(f"checkpoint {cfg.checkpoint_path} is for {saved.get('dataset')} {saved.get('config')}")
    if cfg.scheduled and saved.get("batch_size", cfg.batch_size) != cfg.batch_size:
        raise UserError(f"checkpoint {cfg.checkpoint_path} was trained at --batch_size {saved['batch_size']}: its "
                        f"{cfg.schedule} schedule counts steps, resume with the same batch size")
    saved_training = saved.get("training", RunConfig(cfg.dataset, cfg.quant, cfg.data_dir, cfg.output_dir).training())
    first_cycle = cfg.restart_epoch > 0 and saved_training == cfg.first_cycle_training()
    if saved_training != cfg.training() and not first_cycle:
        raise UserError(f"checkpoint {cfg.checkpoint_path} was trained with {recipe_flags(saved_training)}: resume "
                        "with the same flags (or start anew with --resume False)")


def progress_verbosity(verbose: int | str) -> int | str:
    """A progress bar only on a terminal: piped into a file, a bar is a line of control characters, so it becomes
    Keras' one line per run (2)."""
    return 2 if verbose in (1, "auto") and not sys.stdout.isatty() else verbose


def evaluate(cfg: RunConfig, data: Dataset | None = None) -> tuple[float, float]:
    """Test loss and accuracy of the saved weights file (``cfg.inference_npz`` or the run's own npz)."""
    spec = dataset_spec(cfg.dataset)
    path = cfg.inference_npz or cfg.npz_path
    model, core = build_training_model(spec.n_classes, cfg.quant, cfg.seed, arch=cfg.arch, pixels=spec.pixels)
    load_npz(path, core, dataset=cfg.dataset, quant=cfg.quant, arch=cfg.arch)
    data = data or load_dataset(spec, cfg.data_dir)
    compile_model(model, cfg.learning_rate)
    loss, accuracy = model.evaluate(
        _as_float(data.x_test), data.y_test, batch_size=cfg.batch_size, verbose=progress_verbosity(cfg.verbose),
        return_dict=False
    )
    return float(loss), float(accuracy)


__all__ = ["RunConfig", "train", "evaluate", "build_training_model", "compile_model"]
