"""The NIR file, read back with ``nir.read`` and run by nirtorch's graph executor (code we did not write), gives
the simulator's per-layer spike counts and class potentials."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

nir = pytest.importorskip("nir")
nirtorch = pytest.importorskip("nirtorch")
torch = pytest.importorskip("torch")

from conftest import REPO, script_env  # noqa: E402
from synthetic import arch_of  # noqa: E402
from test_spiking import finish_params, random_params, simulate  # noqa: E402

from quant_snn.architecture import VGG, ConvSpec  # noqa: E402
from quant_snn.export import integer_network  # noqa: E402
from quant_snn.nir_export import write_nir  # noqa: E402
from quant_snn.quant_config import QuantConfig  # noqa: E402


class Heaviside(torch.nn.Module):
    """NIR's Threshold: 1 where v > threshold."""

    def __init__(self, threshold: np.ndarray):
        super().__init__()
        self.register_buffer("threshold", torch.from_numpy(np.asarray(threshold, np.float64)))

    def forward(self, v):
        return (v > self.threshold).to(v.dtype)


def conv2d(node):
    weight = np.asarray(node.weight, np.float64)
    module = torch.nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2:], stride=int(np.ravel(node.stride)[0]),
                             padding=int(np.ravel(node.padding)[0]), bias=False, dtype=torch.float64)
    module.weight.data = torch.from_numpy(weight)
    return module


def linear(node):
    weight = np.asarray(node.weight, np.float64)
    module = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False, dtype=torch.float64)
    module.weight.data = torch.from_numpy(weight)
    return module


NODE_MAP = {nir.Threshold: lambda node: Heaviside(node.threshold), nir.Conv2d: conv2d, nir.Linear: linear,
            nir.Flatten: lambda node: torch.nn.Flatten(start_dim=node.start_dim + 1)}  # NIR shapes have no batch


def run_nir_file(path, images):
    """Potentials and, per convolution, the spike counts (sum of its Threshold nodes), from nirtorch."""
    graph = nir.read(path)
    module = nirtorch.nir_to_torch(graph, NODE_MAP, dtype=torch.float64)
    fired: dict[str, torch.Tensor] = {}
    for name, sub in module.named_modules():
        if isinstance(sub, Heaviside):
            conv = name.rsplit("_threshold", 1)[0]
            sub.register_forward_hook(lambda _m, _i, out, conv=conv: fired.__setitem__(
                conv, fired.get(conv, 0) + out))
    out = module(torch.from_numpy(images.astype(np.float64).transpose(0, 3, 1, 2)))
    out = out[0] if isinstance(out, tuple) else out
    return out.detach().numpy(), {k: v.detach().numpy().transpose(0, 2, 3, 1) for k, v in fired.items()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_small_random_networks_through_a_nir_file(tmp_path, seed):
    rng = np.random.default_rng(seed)
    convs = (ConvSpec("conv00", 6, 3), ConvSpec("conv0", 5, 3), ConvSpec("conv1", 4, 2, 2), ConvSpec("conv2", 3, 3, 1,
                                                                                                      "valid"))
    quant = QuantConfig(seed % 2, [1.0, 2.0, 4.0][seed])
    params = finish_params(random_params(rng, convs, 3, 7), rng, 2 * 2 * 3, 7)
    images = rng.normal(size=(4, 8, 8, 3)).astype(np.float32)
    path = write_nir(integer_network(params, quant, arch_of(convs, (8, 8, 3))), tmp_path / "snn.nir")
    check_against_simulator(path, params, quant, convs, images)


def test_full_vgg_through_a_nir_file(tmp_path):
    rng = np.random.default_rng(7)
    quant = QuantConfig(1, 2)
    params = finish_params(random_params(rng, VGG.convs, 3, 10), rng, 512, 10)
    path = write_nir(integer_network(params, quant), tmp_path / "vgg.nir")
    graph = nir.read(path)
    assert sum(isinstance(n, nir.Threshold) for n in graph.nodes.values()) == len(VGG.convs) * quant.n_thresholds
    check_against_simulator(path, params, quant, VGG.convs, rng.normal(size=(2, 24, 24, 3)).astype(np.float32))


def check_against_simulator(path, params, quant, convs, images):
    _, potential, _, _, counts = simulate(params, quant, convs, images)
    nir_potential, nir_counts = run_nir_file(path, images)
    for spec, ours in zip(convs, counts):
        np.testing.assert_array_equal(nir_counts[spec.name], ours, err_msg=spec.name)
    np.testing.assert_allclose(nir_potential, potential, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(nir_potential.argmax(1), potential.argmax(1))


def test_spiking_script_exports_and_refuses_fp32(tmp_path, capsys):
    """The export through the script in a subprocess; the refusal through its entry point in this process."""
    from quant_snn.cli import spiking_main
    from quant_snn.model import build_network
    from quant_snn.weights import save_npz

    for tag, quant in (("k1B2", QuantConfig(1, 2)), ("fp32", QuantConfig(None, None))):
        save_npz(tmp_path / f"{tag}.npz", build_network(10, quant), dataset="cifar10", quant=quant, epochs=1,
                 test_accuracy=0.1)
    command = [sys.executable, str(REPO / "CIFAR10" / "Spiking_VGG_CIFAR10.py"), "--k", "1", "--B", "2"]
    ok = subprocess.run(command + ["--npz", str(tmp_path / "k1B2.npz"), "--export_nir", str(tmp_path / "k1B2.nir")],
                        env=script_env(), capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert len(nir.read(tmp_path / "k1B2.nir").nodes) == 2 + 2 + len(VGG.convs) * 5  # in/out, flatten/dense
    capsys.readouterr()
    code = spiking_main("cifar10", command[1], command[2:] + ["--npz", str(tmp_path / "fp32.npz"),
                                                              "--export_nir", str(tmp_path / "x.nir")])
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "holds a fp32 network" in errors[0]
    assert "Traceback" not in stderr
    assert not (tmp_path / "x.nir").exists()


def test_export_never_touches_its_input_and_replaces_a_file_only_when_asked(tmp_path, capsys, monkeypatch):
    """Rules: the npz is never written (even with --overwrite True); an existing file only with --overwrite True;
    a full disk leaves the earlier file as it was; a folder that cannot take the file is refused before the work."""
    import errno

    import quant_snn.atomic
    from quant_snn.cli import spiking_main
    from quant_snn.model import build_network
    from quant_snn.weights import save_npz

    npz = tmp_path / "k1B2.npz"
    save_npz(npz, build_network(10, QuantConfig(1, 2)), dataset="cifar10", quant=QuantConfig(1, 2), epochs=1,
             test_accuracy=0.1)
    weights, other = npz.read_bytes(), tmp_path / "notes.txt"
    other.write_text("keep me\n")

    def export(target, *flags):
        capsys.readouterr()
        code = spiking_main("cifar10", str(REPO / "CIFAR10" / "Spiking_VGG_CIFAR10.py"),
                            ["--npz", str(npz), "--export_nir", str(target), *flags])
        errors = [line for line in capsys.readouterr().err.splitlines() if line]
        return code, errors

    for target, flags, message in ((npz, ["--overwrite", "True"], "is this run's input"),
                                   (other, [], "exists: choose another file name, or replace it with --overwrite"),
                                   (other / "x.nir", [], "cannot be written")):
        code, errors = export(target, *flags)
        assert code == 2 and len(errors) == 1 and message in errors[0], errors
    assert npz.read_bytes() == weights and other.read_text() == "keep me\n"

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(quant_snn.atomic.os, "fsync", full_disk)
        code, errors = export(other, "--overwrite", "True")
    assert code == 2 and len(errors) == 1 and "no space left to write" in errors[0], errors
    assert other.read_text() == "keep me\n" and sorted(p.name for p in tmp_path.iterdir()) == [npz.name, other.name]
    assert export(other, "--overwrite", "True") == (0, [])
    assert len(nir.read(other).nodes) == 2 + 2 + len(VGG.convs) * 5
