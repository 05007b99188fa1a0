"""The method at work in one command: the published k1B2 VGG-Net run as a one-time-step spiking network on the whole
test set, noiseless and with 10% / 20% of its first-layer spikes dropped, beside the paper's figures.

    python -m quant_snn.showcase                    # make run: CIFAR-10, the published weights
    python -m quant_snn.showcase --npz runs/cifar10/model_cifar_10_k1B2.npz   # your own k1B2 network

Checks the published file against its SHA-256 first; prepares the test set (download from the official site with
its checksum, or the copy already in ``--data_dir``); writes the spiking logs and figures into ``--output_dir``
(git-ignored ``runs/showcase/<dataset>/`` by default), never over the committed results; and, when the committed
results were made from the same file, says run by run whether accuracies, differing images, spikes and SOPs came out
the same. Noiseless runs depend on neither the batch size nor the backend, so they must agree exactly; the dropped
spikes are drawn batch by batch, so noisy runs are compared only at the same batch size, seed and backend (the
default batch size is the original's, as in the committed runs).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .cli import repo_root, run_cli
from .config import QuantConfig, RunFiles, check_noise_ratio, dataset_spec
from .errors import UserError
from .paths import repo_relative

if TYPE_CHECKING:
    from .architecture import Architecture
    from .spiking_logs import SpikingStats

REPO = repo_root(__file__)
SHOWCASE_QUANT = QuantConfig(1, 2)
PUBLISHED_FOLDER = "published"


def published_npz(dataset: str) -> Path:
    """The published k1B2 network of ``dataset`` (``CIFAR10/published/model_cifar_10_k1B2.npz``): named like the
    training scripts' output, in a folder of its own so that training never writes over it."""
    return RunFiles.of(REPO / dataset_spec(dataset).scripts / PUBLISHED_FOLDER, dataset, SHOWCASE_QUANT).npz


def parser() -> argparse.ArgumentParser:
    """The showcase's flags (``make run`` passes ``--dataset`` and ``--data_dir``)."""
    p = argparse.ArgumentParser(prog="python -m quant_snn.showcase", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=("cifar10", "cifar100"), default="cifar10")
    p.add_argument("--npz", type=Path, default=None, help="k1B2 weights (default: the published file)")
    p.add_argument("--data_dir", type=Path, default=REPO / "data")
    p.add_argument("--output_dir", type=Path, default=None, help="default: runs/showcase/<dataset>/ (git-ignored)")
    p.add_argument("--noise", default="0,0.1,0.2", help="first-layer spike noise ratios (default 0,0.1,0.2)")
    p.add_argument("--batch_size", type=int, default=None,
                   help="images per step (default: the original's, 50 for CIFAR); noiseless results do not depend "
                        "on it, the noise draws do")
    p.add_argument("--limit", type=int, default=None, help="only the first LIMIT test images (a quick look)")
    return p


def committed_stats(dataset: str, noise: float = 0.0) -> SpikingStats | None:
    """The committed k1B2 run of ``dataset`` at this noise ratio (read before the showcase writes anything)."""
    from .spiking_logs import log_dir_name, read_stats

    return read_stats(REPO / dataset_spec(dataset).scripts / "figs" / log_dir_name(SHOWCASE_QUANT.tag, noise))


def committed_match(stats: SpikingStats, committed: SpikingStats | None, where: str) -> str | None:
    """Compare a run with the committed one when both ran the same file on the same images in the same statistics
    format, and, with noise, drew the same dropped spikes (batch size, seed, backend); None when there is nothing to
    compare."""
    if committed is None:
        return None
    keys = ["stats_version", "npz_sha256", "images", "time_steps", "noise_ratio"]
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
    """The committed results live in the dataset folders; the showcase never writes there."""
    committed = {(REPO / dataset_spec(name).scripts).resolve() for name in ("cifar10", "cifar100", "mnist")}
    if output_dir.resolve() in committed:
        raise UserError(f"--output_dir {output_dir} holds committed results; choose another folder "
                        "(reproduce --output_dir rewrites them on purpose)")


def table(dataset: str, runs: list[tuple[float, SpikingStats]]) -> str:
    """Markdown rows of our runs beside the paper's SNN figure for the same noise (``--`` where it gives none), so
    that a reader sees at once how far a network is from the published one."""
    from .paper import PAPER_EPOCHS, PAPER_NOISE, paper_snn

    tag = SHOWCASE_QUANT.tag
    lines = ["| noise | SNN, T=1 | ANN (float64) | images SNN != ANN | spikes / image | SOPs / image | "
             f"paper SNN ({PAPER_EPOCHS[dataset]} epochs) |", "|---|---|---|---|---|---|---|"]
    for noise, s in runs:
        paper = paper_snn(dataset, tag) if noise == 0 else PAPER_NOISE.get(dataset, {}).get((tag, noise))
        lines.append(f"| {noise:g} | {100 * s.snn_accuracy:.2f}% | {100 * s.ann_accuracy:.2f}% | "
                     f"{s.differing_images:,} of {s.config.images:,} | {s.spikes_per_image:,.1f} | "
                     f"{s.sops_per_image:.4g} | {'--' if paper is None else f'{paper:.2f}%'} |")
    return "\n".join(lines)


def run_showcase(dataset: str, npz: Path, data_dir: Path, output_dir: Path, noise: list[float],
                 batch_size: int | None = None, limit: int | None = None,
                 arch: Architecture | None = None) -> list[tuple[float, SpikingStats]]:
    """The spiking runs (one per noise ratio) and the figures; returns (noise ratio, statistics) per run. ``arch``:
    the dataset's network unless given (tests run a small one)."""
    from .data import load_dataset
    from .figures import FIGURES
    from .spiking_eval import SpikingRunConfig, run_spiking

    spec = dataset_spec(dataset)
    batch_size = batch_size or spec.snn_batch_size  # the original's, as in the committed runs
    data = load_dataset(spec, data_dir)
    runs, ann_cache = [], {}  # the ANNs' decisions do not depend on the noise: computed by the first run only
    for ratio in noise:
        cfg = SpikingRunConfig(dataset=dataset, quant=SHOWCASE_QUANT, npz=npz, data_dir=data_dir,
                               figs_dir=output_dir / "figs", batch_size=batch_size, noise_ratio=ratio, limit=limit,
                               arch=arch)
        print(f"== spiking network, noise {ratio:g}", flush=True)
        runs.append((ratio, run_spiking(cfg, data, ann_cache)))
    for name, figure in FIGURES.items():
        if name != "noise" or any(p > 0 for p in noise):
            figure(output_dir / "figs", [SHOWCASE_QUANT.tag], f"{spec.scripts}/Spiking_{spec.script_name}.py")
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m quant_snn.showcase``: exit 0, or 2 with one error line."""
    from .quiet import quiet_native_logs

    quiet_native_logs()
    args = parser().parse_args(argv)

    def run() -> None:
        try:
            noise = [float(p) for p in args.noise.split(",") if p.strip()]
        except ValueError:
            raise UserError(f"--noise takes comma-separated numbers, got {args.noise!r}") from None
        if not noise:
            raise UserError("--noise names no ratio (e.g. --noise 0,0.1,0.2)")
        for ratio in noise:
            check_noise_ratio(ratio, "--noise ratios")
        spec = dataset_spec(args.dataset)
        args.batch_size = spec.snn_batch_size if args.batch_size is None else args.batch_size
        if args.batch_size < 1:
            raise UserError(f"--batch_size must be at least 1, got {args.batch_size}")
        if args.limit is not None and args.limit < 1:
            raise UserError(f"--limit must be at least 1, got {args.limit}")
        from .publish import check_published
        from .weights import check_npz, read_npz

        output = args.output_dir or REPO / "runs" / "showcase" / args.dataset
        check_output_dir(output)
        npz = args.npz or published_npz(args.dataset)
        if args.npz is None:
            check_published(npz)
        params, info = read_npz(npz)
        if info.quant is not None and info.quant != SHOWCASE_QUANT:
            raise UserError(f"{npz} holds a {info.quant.tag} network; the showcase runs {SHOWCASE_QUANT.tag} "
                            "(for other configurations use the Spiking_* scripts)")
        check_npz(npz, params, info, dataset=args.dataset, quant=SHOWCASE_QUANT)  # before any data is fetched
        digest = info.sha256
        committed = {ratio: committed_stats(args.dataset, ratio) for ratio in noise}
        print(f"{args.npz or repo_relative(npz)} (sha256 {digest[:16]}..., {info.epochs} epochs, test accuracy as "
              f"trained {'?' if info.test_accuracy is None else f'{100 * info.test_accuracy:.2f}%'})", flush=True)
        start = time.perf_counter()
        runs = run_showcase(args.dataset, npz, args.data_dir, output, noise, args.batch_size, args.limit)
        print(f"\n{spec.title}, {SHOWCASE_QUANT.tag}, one time step ({time.perf_counter() - start:.0f} s; logs and "
              f"figures in {output / 'figs' if args.output_dir else repo_relative(output / 'figs')})\n")
        print(table(args.dataset, runs))
        where = f"{spec.scripts}/RESULTS_{args.dataset.upper()}.md"
        matches = [committed_match(stats, committed[ratio], where) for ratio, stats in runs]
        if any(matches):
            print("\n" + "\n".join(m for m in matches if m))

    return run_cli(run, "interrupted; run the same command again")


if __name__ == "__main__":
    raise SystemExit(main())
