"""The showcase (``make run``) on a small network and synthetic images: its runs, figures, table and the check
against committed results; and its refusals."""

import dataclasses

import numpy as np
from synthetic import SMALL

import quant_snn.showcase
from quant_snn.cli.commands import publish_main
from quant_snn.cli.commands import showcase_main as main
from quant_snn.model import build_network
from quant_snn.names import parse_name
from quant_snn.paths import REPO
from quant_snn.publish import check_published
from quant_snn.quant_config import FP32, QuantConfig
from quant_snn.showcase import Shown, committed_match, default_noise, run_showcase, table
from quant_snn.spiking_logs import read_stats
from quant_snn.weights import save_npz


def small_k1b2(path, quant=None, seed=0):
    quant = quant or QuantConfig(1, 2)
    model = build_network(10, quant, SMALL)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.name.startswith("bn"):  # some negative gammas, firing neurons
            layer.gamma.assign(rng.normal(1, 0.3, layer.gamma.shape) * rng.choice([-1, 1, 1], layer.gamma.shape))
            layer.beta.assign(rng.normal(0.5, 0.3, layer.beta.shape))
    save_npz(path, model, dataset="cifar10", quant=quant, epochs=1, test_accuracy=None)


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
    text = table("cifar10", [Shown("k1B2", 1, runs)])
    assert f"| k1B2 | 1 | {100 * clean.snn_accuracy:.2f}% | {100 * clean.ann_accuracy:.2f}% | 0 of 20 |" in text
    assert f"| {100 * noisy.snn_accuracy:.2f}% | 91.91% | 89.65% |" in text  # the paper's k1B2 figures beside ours

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
    fp32 = tmp_path / "fp32.npz"
    save_npz(fp32, build_network(10, FP32, SMALL), dataset="cifar10", quant=FP32, epochs=1, test_accuracy=None)
    monkeypatch.setattr(quant_snn.showcase, "published_folder", lambda dataset: tmp_path / "published")
    empty = tmp_path / "no_data"
    cases = {("--noise", "0,1.5"): "--noise", ("--noise", "zero"): "--noise", ("--batch_size", "0"): "--batch_size",
             ("--limit", "0"): "--limit", ("--npz", str(tmp_path / "missing.npz")): "not found",
             ("--npz", str(k0b1), "--network", "k1B2"): "holds a k0B1 network, not k1B2",
             ("--npz", str(fp32)): "FP32 network", ("--npz", str(k0b1), "--network", "all"): "leave out --npz",
             (): "no published network 'k1B2_original' for cifar10: published are none",
             ("--network", "all"): "lists no published network", ("--network", "k1B2.0"): "as 'k1B2'",
             ("--output_dir", str(REPO / "CIFAR10")): "committed results",
             ("--output_dir", str(REPO / "LeNet" / "original")): "committed results",
             ("--noise", "0.1"): "leaves out 0"}
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


def test_every_published_network_in_one_table_two_of_one_configuration_apart(tmp_path, cifar10_dir, monkeypatch,
                                                                             capsys):
    folder = tmp_path / "published"
    for name, seed in (("k1B2_original", 0), ("k1B2_fast60", 1), ("k0B1_fast60", 2)):
        small_k1b2(tmp_path / f"{name}.npz", parse_name(name).quant, seed)
        label = parse_name(name).label
        assert publish_main([str(tmp_path / f"{name}.npz"), str(folder), "--label", label]) == 0
    monkeypatch.setattr(quant_snn.showcase, "published_folder", lambda dataset: folder)
    out = tmp_path / "out"
    assert main(["--network", "all", "--output_dir", str(out), "--limit", "10", "--data_dir", str(cifar10_dir)],
                arch=SMALL) == 0
    printed = capsys.readouterr().out
    rows = [line.split(" | ") for line in printed.splitlines() if line.startswith("| k")]
    assert [r[0] for r in rows] == ["| k0B1_fast60", "| k1B2_fast60", "| k1B2_original"]  # by k and B, then label
    assert [r[7] for r in rows] == ["--", *(f"{100 * read_stats(out / 'figs' / f'{n}_noise0.1').snn_accuracy:.2f}%"
                                            for n in ("k1B2_fast60", "k1B2_original"))]
    assert rows[0][7:] == ["--", "--", "89.12%", "--", "-- |"] and rows[2][-3:] == ["91.91%", "90.32%", "89.65% |"]
    assert sorted(p.name for p in (out / "figs").iterdir() if p.is_dir()) == [
        "k0B1_fast60", "k1B2_fast60", "k1B2_fast60_noise0.1", "k1B2_fast60_noise0.2", "k1B2_original",
        "k1B2_original_noise0.1", "k1B2_original_noise0.2"]
    assert default_noise(parse_name("k1B2_x")) == [0.0, 0.1, 0.2] and default_noise(parse_name("k0B1")) == [0.0]
    (folder / "model_cifar_10_k1B2_fast60.npz").write_bytes(b"damaged")  # one damaged file stops all, up front
    assert main(["--network", "all", "--output_dir", str(tmp_path / "again")], arch=SMALL) == 2
    assert "is damaged or not the published one" in capsys.readouterr().err and not (tmp_path / "again").exists()
