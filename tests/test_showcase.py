"""The showcase (``make run``) on a small network and synthetic images: its runs, figures, table and the check
against committed results; and its refusals."""

import dataclasses
import shutil

import numpy as np
from synthetic import SMALL

from quant_snn.config import QuantConfig
from quant_snn.model import build_network
from quant_snn.publish import check_published
from quant_snn.publish import main as publish_main
from quant_snn.showcase import committed_match, main, run_showcase, table
from quant_snn.spiking_logs import STATS_FILE, read_stats
from quant_snn.weights import save_npz


def small_k1b2(path):
    model = build_network(10, QuantConfig(1, 2), SMALL)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.name.startswith("bn"):  # some negative gammas, firing neurons
            layer.gamma.assign(rng.normal(1, 0.3, layer.gamma.shape) * rng.choice([-1, 1, 1], layer.gamma.shape))
            layer.beta.assign(rng.normal(0.5, 0.3, layer.beta.shape))
    save_npz(path, model, dataset="cifar10", quant=QuantConfig(1, 2), epochs=1, test_accuracy=None)


def test_published_network_runs_draws_and_matches_its_committed_run(tmp_path, cifar10_dir, capsys):
    small_k1b2(tmp_path / "model_cifar_10_k1B2.npz")
    assert publish_main([str(tmp_path / "model_cifar_10_k1B2.npz"), str(tmp_path / "published")]) == 0
    npz = tmp_path / "published" / "model_cifar_10_k1B2.npz"
    digest = check_published(npz)
    runs = run_showcase("cifar10", npz, cifar10_dir, tmp_path / "out", [0.0, 0.2], batch_size=7, arch=SMALL)
    assert [p for p, _ in runs] == [0.0, 0.2]
    clean, noisy = (s for _, s in runs)
    assert clean.differing_images == 0 and clean.config.npz_sha256 == digest and clean.config.images == 20
    assert noisy.layers[0].spikes_per_image < clean.layers[0].spikes_per_image  # first-layer spikes dropped
    figs = tmp_path / "out" / "figs"
    assert all((figs / f"{name}.png").stat().st_size > 1000 for name in ("accuracy", "sparsity", "sops", "noise"))
    text = table("cifar10", runs)
    assert f"| 0 | {100 * clean.snn_accuracy:.2f}% | {100 * clean.ann_accuracy:.2f}% | 0 of 20 |" in text
    assert "91.91%" in text and "89.65%" in text  # the paper's k1B2 figures beside ours

    committed = tmp_path / "committed"
    shutil.copytree(figs / "k1B2", committed / "k1B2")
    assert committed_match(clean, committed, "RESULTS").startswith("identical")
    changed = dataclasses.replace(read_stats(committed / "k1B2"), spikes_per_image=clean.spikes_per_image + 1)
    (committed / "k1B2" / STATS_FILE).write_text(changed.to_json())
    assert "DIFFERS" in committed_match(clean, committed, "RESULTS") and "spikes_per_image" in committed_match(
        clean, committed, "RESULTS")
    other = dataclasses.replace(changed, config=dataclasses.replace(changed.config, npz_sha256="0" * 64))
    (committed / "k1B2" / STATS_FILE).write_text(other.to_json())
    assert committed_match(clean, committed, "RESULTS") is None  # made from other weights: nothing to compare


def test_refusals_are_one_line(tmp_path, capsys):
    for argv in (["--noise", "0,1.5"], ["--noise", "zero"], ["--batch_size", "0"], ["--limit", "0"],
                 ["--npz", str(tmp_path / "missing.npz")]):
        assert main([*argv, "--output_dir", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and len(err.splitlines()) == 1, (argv, err)
    assert not (tmp_path / "out").exists()
