"""The integer form of the spiking network (:mod:`quant_snn.export`) as a NIR graph (Neuromorphic Intermediate
Representation, PyPI ``nir``), read by snnTorch, Norse, Sinabs, Lava-DL, Rockpool and others.

One time step. Per convolution: a ``Conv2d`` node (weights in NIR's (out, in, kh, kw) layout, the sign of a negative
batch-norm gamma folded in, explicit symmetric zero padding, no bias), then one ``Threshold`` node per threshold
level, all fed by that convolution; their outputs (0/1 each) sum into the next node, which is how NIR composes
edges, so the next layer receives the spike count. NIR's ``Threshold`` fires when ``v > threshold`` (strictly):
integer layers store ``T - 1/2`` for the integer threshold ``T`` (``v > T - 1/2`` iff ``v >= T`` for integer v),
the first layer the float64 threshold moved one ulp down (``v > nextafter(t, -inf)`` iff ``v >= t``); gamma = 0
channels get -inf / +inf. The first layer's weights carry the input scale 2^k (a power of two: exact). Then
``Flatten`` (channel-first order) and ``Linear`` (the dense kernel, rows reordered to that order) to ``Output``.
Shapes are NIR's, without the batch dimension: the VGG-Net's input is (3, 24, 24), the LeNet's (1, 28, 28).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .architecture import conv_geometry
from .atomic import atomic_write
from .errors import UserError
from .export import ALWAYS, NEVER, IntegerNetwork


def _same_padding(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int]:
    """TensorFlow's padding as (padding per side, output size); refuses the asymmetric case NIR cannot state."""
    out, before, after = conv_geometry(size, kernel, stride, padding)
    if before != after:
        raise UserError(f"'same' padding of {before + after} (odd) cannot be written as NIR's symmetric padding")
    return before, out


def _nir_thresholds(layer) -> np.ndarray:
    """(n, C) thresholds for NIR's strict ``v > threshold``, equivalent to the simulator's ``v >= t``."""
    t = np.asarray(layer.thresholds, np.float64).T
    if not layer.integer:
        return np.nextafter(t, -np.inf)
    return np.where(layer.thresholds.T == ALWAYS, -np.inf, np.where(layer.thresholds.T == NEVER, np.inf, t - 0.5))


def nir_graph(net: IntegerNetwork):
    """The NIR graph of ``net`` (see the module docstring)."""
    import nir

    h, w, c = net.arch.input_shape
    nodes: dict = {"input": nir.Input(input_type={"input": np.array([c, h, w])})}
    edges: list[tuple[str, str]] = []
    sources = ["input"]
    for layer in net.convs:
        spec = layer.spec
        pad, out_h = _same_padding(h, spec.kernel, spec.stride, spec.padding)
        _, out_w = _same_padding(w, spec.kernel, spec.stride, spec.padding)
        weight = np.transpose(np.asarray(layer.kernel, np.float32) * np.float32(layer.input_scale), (3, 2, 0, 1))
        nodes[spec.name] = nir.Conv2d(input_shape=(h, w), weight=weight, stride=spec.stride, padding=pad,
                                      dilation=1, groups=1, bias=np.zeros(weight.shape[0], np.float32))
        edges += [(source, spec.name) for source in sources]
        sources = []
        for level, per_channel in enumerate(_nir_thresholds(layer)):
            name = f"{spec.name}_threshold{level}"
            nodes[name] = nir.Threshold(threshold=np.broadcast_to(per_channel[:, None, None],
                                                                  (len(per_channel), out_h, out_w)).copy())
            edges.append((spec.name, name))
            sources.append(name)
        h, w, c = out_h, out_w, weight.shape[0]
    nodes["flatten"] = nir.Flatten(input_type={"input": np.array([c, h, w])}, start_dim=0, end_dim=-1)
    edges += [(source, "flatten") for source in sources]
    classes = net.dense.shape[1]
    dense = net.dense.reshape(h, w, c, classes).transpose(2, 0, 1, 3).reshape(c * h * w, classes)
    nodes["dense"] = nir.Linear(weight=np.ascontiguousarray(dense.T))
    nodes["output"] = nir.Output(output_type={"output": np.array([classes])})
    edges += [("flatten", "dense"), ("dense", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={
        "source": "quant_snn", "network": net.arch.name, "k": net.quant.k, "B": net.quant.B, "time_steps": 1,
        "spike_count": "number of a convolution's Threshold nodes that fire"})


def write_nir(net: IntegerNetwork, path: str | Path) -> Path:
    """Write ``nir_graph(net)`` to ``path`` (NIR's HDF5 file format). The HDF5 file is built in memory and written
    by :func:`quant_snn.atomic.atomic_write`: a full disk or a kill leaves the earlier file as it was (h5py writing
    to disk itself left a corrupt file, and crashed, on a full disk)."""
    import nir

    path = Path(path)
    buffer = io.BytesIO()
    nir.write(buffer, nir_graph(net))
    atomic_write(path, lambda f: f.write(buffer.getvalue()))
    return path
