"""The showcase (``make run``) on a small network and synthetic images: its runs, figures, table and the check
against committed results; and its refusals."""

import dataclasses

import numpy as np
from synthetic import SMALL

import quant_snn.showcase
from quant_snn.config import QuantConfig
from quant_snn.model import build_network
from quant_snn.publish import check_published
from quant_snn.publish import main as publish_main
from quant_snn.showcase import REPO, committed_match, main, run_showcase, table
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

    assert committed_match(clean, clean, "RESULTS").startswith("noise 0: identical")
    assert committed_match(noisy, noisy, "RESULTS").startswith("noise 0.2: identical")
    for change in ({"batch_size": 20}, {"backend": "other"}, {"seed": 1}):  # other spikes dropped: not comparable
        other = dataclasses.replace(noisy, config=dataclasses.replace(noisy.config, **change))
        assert committed_match(noisy, other, "RESULTS") is None
    clean_other_batch = dataclasses.replace(clean, config=dataclasses.replace(clean.config, batch_size=20))
    assert committed_match(clean, clean_other_batch, "RESULTS").startswith("noise 0: identical")
    differ = dataclasses.replace(clean, spikes_per_image=clean.spikes_per_image + 1)
    assert "DIFFERS" in committed_match(clean, differ, "RESULTS") and "spikes_per_image" in committed_match(
        clean, differ, "RESULTS")
    for change in ({"npz_sha256": "0" * 64}, {"stats_version": 2}, {"images": 10}):  # nothing to compare with
        other = dataclasses.replace(differ, config=dataclasses.replace(differ.config, **change))
        assert committed_match(clean, other, "RESULTS") is None
    assert committed_match(clean, None, "RESULTS") is None


def test_refusals_are_one_line_before_any_data(tmp_path, capsys, monkeypatch):
    k0b1 = tmp_path / "k0b1.npz"
    save_npz(k0b1, build_network(10, QuantConfig(0, 1), SMALL), dataset="cifar10", quant=QuantConfig(0, 1),
             epochs=1, test_accuracy=None)
    monkeypatch.setattr(quant_snn.showcase, "published_npz", lambda dataset: tmp_path / "published" / "m.npz")
    empty = tmp_path / "no_data"
    cases = {("--noise", "0,1.5"): "--noise", ("--noise", "zero"): "--noise", ("--batch_size", "0"): "--batch_size",
             ("--limit", "0"): "--limit", ("--npz", str(tmp_path / "missing.npz")): "not found",
             ("--npz", str(k0b1)): "holds a k0B1 network", (): "published weights",
             ("--output_dir", str(REPO / "CIFAR10")): "committed results"}
    for argv, message in cases.items():
        assert main(["--output_dir", str(tmp_path / "out"), "--data_dir", str(empty), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and len(err.splitlines()) == 1 and message in err, (argv, err)
    assert not (tmp_path / "out").exists() and not empty.exists()


def test_a_noise_sweep_computes_the_anns_once_and_gets_the_same_results(tmp_path, cifar10_dir):
    from quant_snn.spiking_eval import SpikingRunConfig, run_spiking

    npz = tmp_path / "k1B2.npz"
    small_k1b2(npz)

    def config(noise, folder, batch_size=7):
        return SpikingRunConfig(dataset="cifar10", quant=QuantConfig(1, 2), npz=npz, data_dir=cifar10_dir,
                                figs_dir=tmp_path / folder, batch_size=batch_size, noise_ratio=noise, arch=SMALL)

    def results(stats):  # all but the run's speed
        return dataclasses.replace(stats, images_per_second=0.0)

    cache = {}
    clean = run_spiking(config(0.0, "sweep"), ann_cache=cache)
    noisy = run_spiking(config(0.2, "sweep"), ann_cache=cache)
    assert len(cache) == 1 and noisy.differing_images > 0  # the dropped spikes change some decisions
    assert results(noisy) == results(run_spiking(config(0.2, "alone")))
    (key, (exact, float32)), = cache.items()
    assert len(exact) == len(float32) == clean.config.images == 20
    # the cached decisions are the ones used: wrong ones show up in the comparison, but only for the same key
    cache[key] = ((exact + 1) % 10, float32)
    assert run_spiking(config(0.0, "poisoned"), ann_cache=cache).differing_images == 20
    assert run_spiking(config(0.0, "other_batch", batch_size=5), ann_cache=cache).differing_images == 0
