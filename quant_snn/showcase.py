"""The method at work in one command: a published VGG-Net (by default the most accurate k1B2 one) run as a
one-time-step spiking network on the whole test set, noiseless and, for k1B2, with 10% / 20% of its first-layer
spikes dropped, beside the paper's figures.

    python -m quant_snn showcase                          # make run: CIFAR-10, the published k1B2_original
    python -m quant_snn showcase --network k0B4_fast60    # make run NETWORK=k0B4_fast60: another published network
    python -m quant_snn showcase --network all            # make run NETWORK=all: every published network, one table
    python -m quant_snn showcase --npz runs/cifar10/model_cifar_10_k1B2.npz   # a network of your own

Checks each published file against its folder's SHA256SUMS first; prepares the test set (download from the official
site with its checksum, or the copy already in ``--data_dir``); writes the spiking logs and figures into
``--output_dir`` (git-ignored ``runs/showcase/<dataset>/`` by default), never over the committed results; and, when
the committed results were made from the same file, says run by run whether accuracies, differing images, spikes and
SOPs came out the same. Noiseless runs depend on neither the batch size nor the backend, so they must agree exactly;
the dropped spikes are drawn batch by batch, so noisy runs are compared only at the same batch size, seed and backend
(the default batch size is the original's, as in the committed runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import layout
from .datasets import dataset_spec
from .errors import UserError
from .layout import RunLayout
from .names import NetworkName, parse_name

if TYPE_CHECKING:
    from .architecture import Architecture
    from .spiking_logs import SpikingStats

# make run's network: the most accurate published k1B2 one (the original recipe, 216 of its 400 epochs)
DEFAULT_NETWORK = {"cifar10": "k1B2_original", "cifar100": "k1B2_fast60"}
ALL = "all"


def published_folder(dataset: str) -> Path:
    """``CIFAR10/published/``: the published networks, with their SHA256SUMS."""
    return layout.published_folder(dataset_spec(dataset))


def published_npz(dataset: str, name: str) -> Path:
    """The published network ``name`` of ``dataset`` (``CIFAR10/published/model_cifar_10_k1B2_original.npz``):
    named like the training scripts' output with ``--label``, in a folder of its own so that training never writes
    over it."""
    network = parse_name(name)
    return RunLayout.of(published_folder(dataset), dataset, network.quant, network.label).npz


def published_names(dataset: str) -> list[str]:
    """Every network listed in the dataset's ``published/SHA256SUMS``, in the order of the paper's table (FP32,
    then by k and B), two networks of one configuration by label."""
    from .publish import recorded_sums

    stem = dataset_spec(dataset).npz_stem + "_"
    names = [file[len(stem):-len(".npz")] for file in recorded_sums(published_folder(dataset))
             if file.startswith(stem) and file.endswith(".npz")]
    networks = [parse_name(name) for name in names]
    networks.sort(key=lambda n: (n.quant.quantized, n.quant.k or 0, n.quant.B or 0, n.label or ""))
    return [str(n) for n in networks]


def default_noise(network: NetworkName) -> list[float]:
    """Noisy runs where the paper reports noisy figures (k1B2), as in the committed tables; else noiseless only."""
    from .paper import PAPER_NOISE

    ratios = sorted({p for table in PAPER_NOISE.values() for (tag, p) in table if tag == network.tag})
    return [0.0, *ratios]


def committed_stats(dataset: str, name: str, noise: float = 0.0) -> SpikingStats | None:
    """The committed run of the network ``name`` at this noise ratio (read before the showcase writes anything)."""
    from .spiking_logs import log_dir_name, read_stats

    return read_stats(layout.dataset_folder(dataset_spec(dataset)) / "figs" / log_dir_name(name, noise))


def committed_match(stats: SpikingStats, committed: SpikingStats | None, where: str) -> str | None:
    """Compare a run with the committed one when both ran the same file on the same images in the same statistics
    format, and, with noise, drew the same dropped spikes (batch size, seed, backend); None when there is nothing to
    compare."""
    if committed is None:
        return None
    keys = ["stats_version", "npz_sha256", "images", "test_sha256", "time_steps", "noise_ratio"]
    if stats.config.noise_ratio > 0:
        keys += ["noise_layers", "batch_size", "seed", "backend", "xla"]
    if any(getattr(committed.config, k) != getattr(stats.config, k) for k in keys):
        return None
    fields = ("snn_accuracy", "ann_accuracy", "differing_images", "spikes_per_image", "sops_per_image")
    differ = [f for f in fields if getattr(committed, f) != getattr(stats, f)]
    noise = f"noise {stats.config.noise_ratio:g}"
    if differ:
        return f"{noise}: DIFFERS from the committed run ({where}) in: {', '.join(differ)}"
    return f"{noise}: identical to the committed run ({where}): accuracy, differing images, spikes and SOPs"


def check_output_dir(output_dir: Path) -> None:
    """The showcase writes only outside the repository or under its git-ignored ``runs/``: never into a committed
    folder (``--output_dir LeNet/original`` once rewrote the authors' network's logs)."""
    from .paths import REPO

    resolved = output_dir.resolve()
    if resolved.is_relative_to(REPO) and not resolved.is_relative_to(REPO / "runs"):
        raise UserError(f"--output_dir {output_dir} lies in the repository outside runs/, where committed results "
                        "live; choose a folder under runs/ or outside the repository (reproduce --output_dir "
                        "rewrites committed results on purpose)")


@dataclass
class Shown:
    """One network's runs: its name, npz epochs and (noise ratio, statistics) per run."""

    name: str
    epochs: int | None
    runs: list[tuple[float, SpikingStats]]


def table(dataset: str, shown: list[Shown]) -> str:
    """Markdown rows of our networks beside the paper's figures for the same configuration and noise (``--`` where it
    gives none), so that a reader sees at once how far each network is from the published one."""
    from .paper import PAPER_EPOCHS, PAPER_NOISE, paper_snn

    noisy = sorted({p for s in shown for p, _ in s.runs if p > 0})
    header = (["network", "epochs", "SNN, T=1", "ANN (float64)", "images SNN != ANN", "spikes / image",
               "SOPs / image"] + [f"SNN, {p:g} noise" for p in noisy]
              + [f"paper SNN ({PAPER_EPOCHS[dataset]} epochs)"] + [f"paper, {p:g} noise" for p in noisy])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for s in shown:
        runs = dict(s.runs)
        tag = parse_name(s.name).tag
        clean = runs.get(0.0)
        cells = [s.name, "?" if s.epochs is None else str(s.epochs)]
        cells += ([f"{100 * clean.snn_accuracy:.2f}%", f"{100 * clean.ann_accuracy:.2f}%",
                   f"{clean.differing_images:,} of {clean.config.images:,}", f"{clean.spikes_per_image:,.1f}",
                   f"{clean.sops_per_image:.4g}"] if clean else ["--"] * 5)
        cells += [f"{100 * runs[p].snn_accuracy:.2f}%" if p in runs else "--" for p in noisy]
        paper = paper_snn(dataset, tag)
        cells += ["--" if paper is None else f"{paper:.2f}%"]
        cells += [f"{PAPER_NOISE[dataset][(tag, p)]:.2f}%" if (tag, p) in PAPER_NOISE.get(dataset, {}) else "--"
                  for p in noisy]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_showcase(dataset: str, npz: Path, data_dir: Path, output_dir: Path, noise: list[float],
                 batch_size: int | None = None, limit: int | None = None, arch: Architecture | None = None,
                 network: NetworkName | None = None, data=None, draw: bool = True) -> list[tuple[float, SpikingStats]]:
    """One network's spiking runs (one per noise ratio) and, with ``draw``, the figures; returns (noise ratio,
    statistics) per run. ``network``: its name (default: the configuration the file records, unlabelled);
    ``arch``: the dataset's network unless given (tests run a small one)."""
    from .data import load_dataset
    from .spiking_eval import SpikingRunConfig, run_spiking

    spec = dataset_spec(dataset)
    network = network or network_of(npz)
    batch_size = spec.snn_batch_size if batch_size is None else batch_size  # the original's, as committed
    data = data or load_dataset(spec, data_dir)
    runs, ann_cache = [], {}  # the ANNs' decisions do not depend on the noise: computed by the first run only
    for ratio in noise:
        cfg = SpikingRunConfig(dataset=dataset, quant=network.quant, npz=npz, data_dir=data_dir,
                               figs_dir=output_dir / "figs", batch_size=batch_size, noise_ratio=ratio, limit=limit,
                               arch=arch, label=network.label)
        print(f"== {network}: spiking network, noise {ratio:g}", flush=True)
        runs.append((ratio, run_spiking(cfg, data, ann_cache)))
    if draw:
        draw_figures(dataset, output_dir, [str(network)], noise)
    return runs


def draw_figures(dataset: str, output_dir: Path, names: list[str], noise: list[float]) -> None:
    from .figures import FIGURES

    spec = dataset_spec(dataset)
    for figure_name, figure in FIGURES.items():
        if figure_name != "noise" or any(p > 0 for p in noise):
            figure(output_dir / "figs", names, layout.spiking_script(spec))


def network_of(npz: Path) -> NetworkName:
    """The configuration a weights file records (a spiking one), unlabelled."""
    from .weights import read_npz

    info = read_npz(npz)[1]
    if info.quant is None:
        raise UserError(f"{npz} records no k and B (an original-format file): run it with the Spiking_* script "
                        "and its --k / --B")
    if not info.quant.quantized:
        raise UserError(f"{npz} holds the FP32 network, which has no spiking form")
    return NetworkName(info.quant)


def chosen_networks(dataset: str, name: str | None, npz: Path | None,
                    arch: Architecture | None = None) -> list[tuple[NetworkName, Path]]:
    """(name, npz) of every network to run: ``npz`` (a network of one's own, named ``name`` or by its record), or the
    published network ``name`` (default: the dataset's showcase network; ``all``: every published one); each checked
    against its flags and, if published, its SHA-256, before any data is fetched."""
    from .publish import check_published
    from .weights import check_npz, read_npz

    if npz is not None:
        if name == ALL:
            raise UserError("--network all runs the published networks; leave out --npz")
        recorded = network_of(npz)
        network = parse_name(name) if name else recorded
        if network.quant != recorded.quant:
            raise UserError(f"{npz} holds a {recorded.tag} network, not {network.tag} (--network {network})")
        chosen = [(network, npz)]
    else:
        names = published_names(dataset)
        if name == ALL:
            if not names:
                raise UserError(f"{published_folder(dataset) / 'SHA256SUMS'} lists no published network")
            wanted = names
        else:
            wanted = [str(parse_name(name or DEFAULT_NETWORK[dataset]))]
            if wanted[0] not in names:
                raise UserError(f"no published network {wanted[0]!r} for {dataset}: published are "
                                f"{', '.join(names) or 'none'} (README_VGG.md, 'Published weights'); pass a network "
                                "of your own with --npz")
        chosen = [(parse_name(wanted_name), published_npz(dataset, wanted_name)) for wanted_name in wanted]
        for network, path in chosen:
            if not network.quant.quantized:
                raise UserError(f"{network} is an FP32 network, which has no spiking form")
            check_published(path)
    for network, path in chosen:
        params, info = read_npz(path)
        check_npz(path, params, info, dataset=dataset, quant=network.quant, arch=arch)
    return chosen
