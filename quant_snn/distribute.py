"""Data-parallel training over all local devices with each backend's own API (no home-made parallelism).

TensorFlow: ``tf.distribute.MirroredStrategy`` (the model is built, compiled and trained inside its scope; batch
norm statistics are all-reduced, ``synchronized=True``). JAX: ``keras.distribution.DataParallel`` (the global batch
is sharded along its first axis; batch norm sees the whole batch anyway). PyTorch: Keras has no data-parallel API
for it, so ``--distribute`` is refused there. In every case the global batch is ``--batch_size``.

With ``cpu_devices`` the CPU is split into that many logical devices (TensorFlow logical devices, JAX's forced
host device count) so that the multi-device path can be tried and tested on a machine without accelerators.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from .errors import UserError
from .flag_checks import check_cpu_devices

XLA_DEVICE_FLAG = "--xla_force_host_platform_device_count"


def request_cpu_devices(n: int) -> None:
    """Ask JAX for ``n`` host devices. Must run before Keras (and so JAX) is imported; harmless on other backends."""
    check_cpu_devices(n)
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith(XLA_DEVICE_FLAG)]
    os.environ["XLA_FLAGS"] = " ".join([*flags, f"{XLA_DEVICE_FLAG}={n}"])


@dataclass
class DataParallel:
    """How one training run is spread over devices: a scope to build and train in, and the replica layout."""

    devices: list[str]
    scope: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    # Inside a replica's step: (replica index, replica count) as tensors, for per-image random draws that do not
    # repeat across replicas. None when every step sees the whole global batch (one device, or JAX sharding).
    replica_context: Callable[[], tuple] | None = None
    synchronized_batchnorm: bool = False

    @property
    def replicas(self) -> int:
        return len(self.devices)


def single_device() -> DataParallel:
    """No distribution: the backend's default device, no scope."""
    return DataParallel(devices=["default"])


def _tensorflow(cpu_devices: int | None) -> DataParallel:
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    configured = tf.config.get_logical_device_configuration(cpus[0]) or []
    if cpu_devices and len(configured) != cpu_devices:  # a second run in the same process keeps the split
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(cpu_devices)]
            )
        except RuntimeError as exc:  # the runtime had already started
            raise UserError(f"cannot split the CPU into {cpu_devices} devices now ({exc})") from None
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    strategy = tf.distribute.MirroredStrategy(devices=devices)

    def replica_context():
        context = tf.distribute.get_replica_context()
        return context.replica_id_in_sync_group, context.num_replicas_in_sync

    return DataParallel(devices=devices, scope=strategy.scope, replica_context=replica_context,
                        synchronized_batchnorm=True)


def _jax() -> DataParallel:
    import keras

    devices = keras.distribution.list_devices()
    distribution = keras.distribution.DataParallel(devices=devices)
    return DataParallel(devices=list(devices), scope=distribution.scope)


def data_parallel(cpu_devices: int | None = None) -> DataParallel:
    """Set up data-parallel training over all local devices (GPUs if any, else the CPU's logical devices)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow(cpu_devices)
    if backend == "jax":
        return _jax()
    raise UserError(f"--distribute is not available on the {backend} backend: use KERAS_BACKEND=jax or tensorflow")


def check_batch(batch_size: int, parallel: DataParallel, sizes: tuple[int, ...] = ()) -> None:
    """Every batch, the last partial one of each of ``sizes`` included, must split evenly over the devices."""
    n = parallel.replicas
    if batch_size % n:
        raise UserError(f"--batch_size {batch_size} does not split over {n} devices: use a multiple of {n}")
    for size in sizes:
        if size % batch_size % n:
            raise UserError(
                f"the last batch of {size % batch_size} images (of {size}) does not split over {n} devices: "
                f"choose --batch_size so that it does"
            )


__all__ = ["DataParallel", "data_parallel", "single_device", "request_cpu_devices", "check_batch"]
