"""The weights file (npz) contract shared with the original code and the spiking simulator.

``np.savez(path, params=[...])``: a list in layer order, for each convolution its kernel (HxWxInxOut; ternary
values for the ternary convolutions of a quantized net) followed by its batch norm's beta, gamma, moving_mean,
moving_variance, and finally the dense kernel (features x n_classes); the layout is the architecture's
(:meth:`quant_snn.architecture.Architecture.param_shapes`, ``split_params``). Metadata (dataset, k, B, n_classes,
epochs, test accuracy) sits in extra keys that the original reader ignores; files without them are accepted after a full
shape check.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from .architecture import BN_ARRAYS, Architecture, is_ternary
from .atomic import atomic_savez
from .datasets import dataset_spec
from .errors import UserError
from .model import bn_name, conv_layers
from .quant_config import QuantConfig
from .safe_npz import MAX_MEMBER_BYTES, UnsafeNpz, load_safe_npz

FORMAT_VERSION = 1
# the metadata keys this reader knows (others are never unpacked); each a scalar or a short JSON string
METADATA_KEYS = ("format_version", "dataset", "quantized", "k", "B", "n_classes", "epochs", "test_accuracy", "training")
METADATA_MAX_BYTES = 2**20
MAX_FILE_BYTES = 2 * MAX_MEMBER_BYTES
BN_ORDER = BN_ARRAYS


@dataclass(frozen=True)
class NpzInfo:
    """What the file says about itself (``None`` where an original-format file has no metadata)."""

    dataset: str | None
    quant: QuantConfig | None
    n_classes: int | None
    epochs: int | None
    test_accuracy: float | None
    training: dict | None = None  # optimizer, schedule, ... of the run that wrote it (see RunConfig.training)
    sha256: str | None = None  # of the very bytes the params were read from (not of the file as it is later)


def model_params(model) -> list[np.ndarray]:
    """The ``params`` list of the contract, taken from a model built by :func:`quant_snn.model.build_network`."""
    params: list[np.ndarray] = []
    for conv in conv_layers(model):
        params.append(keras.ops.convert_to_numpy(conv.quantized_kernel()).astype(np.float32))
        bn = model.get_layer(bn_name(conv.name))
        params.extend(keras.ops.convert_to_numpy(getattr(bn, name)).astype(np.float32) for name in BN_ORDER)
    params.append(keras.ops.convert_to_numpy(model.get_layer("dense").kernel).astype(np.float32))
    return params


def file_sha256(path: str | os.PathLike) -> str:
    """Fingerprint of a weights file: spiking logs record it, so results of replaced weights are never reused."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def save_npz(
    path: str | os.PathLike,
    model,
    *,
    dataset: str,
    quant: QuantConfig,
    epochs: int,
    test_accuracy: float | None,
    params: list[np.ndarray] | None = None,
    training: dict | None = None,
) -> None:
    """Save ``model`` in the contract's format plus metadata keys (``params``: its :func:`model_params`, when the
    caller already has them)."""
    params = model_params(model) if params is None else params
    packed = np.empty(len(params), dtype=object)
    for i, p in enumerate(params):
        packed[i] = p
    atomic_savez(
        path,
        params=packed,
        format_version=np.int64(FORMAT_VERSION),
        dataset=np.str_(dataset),
        quantized=np.bool_(quant.quantized),
        k=np.int64(quant.k if quant.quantized else -1),
        B=np.float64(quant.B if quant.quantized else -1.0),
        n_classes=np.int64(params[-1].shape[1]),
        epochs=np.int64(epochs),
        test_accuracy=np.float64(np.nan if test_accuracy is None else test_accuracy),
        **({"training": np.str_(json.dumps(training))} if training is not None else {}),
    )


def read_npz(path: str | os.PathLike) -> tuple[list[np.ndarray], NpzInfo]:
    """Read the params list and whatever metadata the file carries."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"weights file {path} not found: train first (the Quant_* / FP32_* scripts) or pass --npz")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise UserError(f"weights file {path} is {path.stat().st_size:,} bytes, more than any weights file needs "
                        f"({MAX_FILE_BYTES:,})")
    data = path.read_bytes()  # read once: the hash recorded with the results is that of the weights used
    try:
        arrays = load_safe_npz(io.BytesIO(data), keys=("params",))
        arrays.update(load_safe_npz(io.BytesIO(data), keys=METADATA_KEYS, max_bytes=METADATA_MAX_BYTES))
    except UnsafeNpz as exc:
        raise UserError(f"weights file {path} refused: {exc}") from None
    except Exception as exc:
        raise UserError(f"weights file {path} cannot be read ({type(exc).__name__}: {exc})") from None
    if "params" not in arrays:
        raise UserError(f"weights file {path} has no 'params' entry")
    try:
        params = [np.asarray(p, dtype=np.float32) for p in arrays["params"]]
    except (TypeError, ValueError) as exc:
        raise UserError(f"weights file {path} cannot be read ({type(exc).__name__}: {exc})") from None
    broken = [i for i, p in enumerate(params) if not np.all(np.isfinite(p))]
    if broken:
        raise UserError(f"weights file {path}: params[{broken[0]}] holds NaN or infinity (a diverged or broken run)")
    meta = _Metadata(path, {key: value for key, value in arrays.items() if key != "params"})
    version = meta.get("format_version", int)
    if version is not None and version > FORMAT_VERSION:
        raise UserError(f"weights file {path} has format version {version}, newer than this code reads "
                        f"({FORMAT_VERSION}): update the code")
    quant = None
    if "quantized" in meta:
        quantized = meta.get("quantized", bool)
        quant = QuantConfig(meta.get("k", int), meta.get("B", float)) if quantized else QuantConfig(None, None)
    epochs = meta.get("epochs", int)
    if epochs is not None and epochs < 0:
        raise UserError(f"weights file {path} records {epochs} epochs: not a whole number >= 0")
    accuracy = meta.get("test_accuracy", float)
    info = NpzInfo(
        dataset=meta.get("dataset", str),
        quant=quant,
        n_classes=meta.get("n_classes", int),
        epochs=epochs,
        test_accuracy=None if accuracy is None or np.isnan(accuracy) else accuracy,
        training=_training(meta.get("training", str)),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return params, info


class _Metadata:
    """The metadata members, each read as one value of the type it must have, or one error line naming it (a file
    written by another tool may hold anything: k=[1, 2], quantized="False", k=1.7, n_classes="ten")."""

    KINDS = {bool: "b", int: "iu", float: "fiu", str: "U"}

    def __init__(self, path: Path, arrays: dict[str, np.ndarray]):
        self.path, self.arrays = path, arrays

    def __contains__(self, key: str) -> bool:
        return key in self.arrays

    def get(self, key: str, kind: type):
        if key not in self.arrays:
            return None
        array = self.arrays[key]
        if array.shape != () or array.dtype.kind not in self.KINDS[kind] or array.dtype.names is not None:
            shown = np.array2string(array, threshold=6) if array.dtype.kind in "biufU" else f"of dtype {array.dtype}"
            raise UserError(f"weights file {self.path}: metadata '{key}' is {shown}, not one {kind.__name__} value")
        return kind(array[()])


def _training(text) -> dict | None:
    try:
        value = json.loads(str(text)) if text is not None else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def check_npz(
    path: str | os.PathLike, params: list[np.ndarray], info: NpzInfo, *, dataset: str, quant: QuantConfig,
    arch: Architecture | None = None,
) -> None:
    """Refuse a file whose metadata or shapes do not fit the network that the flags describe (``arch``: the
    dataset's network unless given)."""
    spec = dataset_spec(dataset)
    arch = arch or spec.architecture
    wanted = f"{dataset} {quant.tag} {arch.title}"
    if info.dataset is not None and info.dataset != dataset:
        raise UserError(f"weights file {path} was trained on {info.dataset}, not {dataset}")
    if info.quant is not None and info.quant != quant:
        raise UserError(
            f"weights file {path} holds a {info.quant.tag} network but the flags ask for {quant.tag}: "
            f"pass the matching --k/--B or another --npz"
        )
    shapes = arch.param_shapes(spec.n_classes)
    if len(params) != len(shapes):
        raise UserError(f"weights file {path} has {len(params)} arrays in 'params', a {wanted} needs {len(shapes)}")
    for i, (p, shape) in enumerate(zip(params, shapes)):
        if p.shape != shape:
            raise UserError(
                f"weights file {path}: params[{i}] has shape {p.shape}, a {wanted} needs {shape}"
                + (" (wrong number of classes?)" if i == len(shapes) - 1 else "")
            )
    if quant.quantized:  # our files and the original's both store the ternary kernels themselves
        convs, _ = arch.split_params(params)
        broken = [c.spec.name for c in convs if c.spec.ternary and not is_ternary(c.kernel)]
        if broken:
            raise UserError(f"weights file {path} has non-ternary {', '.join(broken)} kernels: it is not a "
                            f"{quant.tag} network")


def unconfirmed(path: str | os.PathLike, info: NpzInfo, quant: QuantConfig) -> str | None:
    """The warning for a file without metadata (the original's format): its arrays fit any k and B, so nothing in
    it confirms the configuration the flags name."""
    if info.quant is not None:
        return None
    return (f"weights file {path} has no metadata (the original's format): nothing in it confirms that it holds a "
            f"{quant.tag} network; it is evaluated as the flags say")


def assign_params(model, params: list[np.ndarray]) -> None:
    """Load a params list (already checked) into ``model``."""
    it = iter(params)
    for conv in conv_layers(model):
        conv.kernel.assign(next(it))
        bn = model.get_layer(bn_name(conv.name))
        for name in BN_ORDER:
            getattr(bn, name).assign(next(it))
    model.get_layer("dense").kernel.assign(next(it))


def load_npz(
    path: str | os.PathLike, model, *, dataset: str, quant: QuantConfig, arch: Architecture | None = None
) -> tuple[list[np.ndarray], NpzInfo]:
    """Check ``path`` against the network the flags describe (``arch``, default the dataset's) and load it into
    ``model``, built from it; returns the checked params (for other models of the same network, e.g. the spiking
    one) and the file's metadata."""
    params, info = read_npz(path)
    check_npz(path, params, info, dataset=dataset, quant=quant, arch=arch)
    warning = unconfirmed(path, info, quant)
    if warning:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    assign_params(model, params)
    return params, info
