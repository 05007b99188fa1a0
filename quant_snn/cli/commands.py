"""``python -m quant_snn <command>`` (also the console script ``quant-snn``): one command line for everything the
package does beside the original scripts.

    python -m quant_snn train cifar10 --k 1 --B 2 --recipe fast     # Quant_VGG_CIFAR10.py (--fp32: FP32_VGG_...)
    python -m quant_snn spiking cifar10 --k 1 --B 2                 # Spiking_VGG_CIFAR10.py
    python -m quant_snn export cifar10 --k 1 --B 2 --npz F --to G   # the NIR graph (Spiking_... --export_nir)
    python -m quant_snn figures cifar10                             # every figure of CIFAR10/figs/
    python -m quant_snn reproduce --configs fp32,k1B2 --epochs 400  # from a clean clone to RESULTS_CIFAR10.md
    python -m quant_snn showcase [--network all]                    # make run
    python -m quant_snn publish NPZ FOLDER --label fast60           # published weights and their SHA-256
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ..datasets import DATASETS, DEFAULT_NOISE, DEFAULT_TABLE
from ..errors import UserError
from ..paths import REPO
from ..quiet import quiet_native_logs
from .flags import add_parallel_flags, add_recipe_flags, comma_list, literal_bool, parse_noise, run_cli
from .scripts import curves_main, figure_main, spiking_main, training_main

TRAINING_FLAGS = ("optimizer", "schedule", "learning_rate", "warmup_epochs", "weight_decay", "label_smoothing",
                  "restart_epoch", "restart_learning_rate")


def reproduce_parser() -> argparse.ArgumentParser:
    """The flags of ``python -m quant_snn reproduce``."""
    from ..reproduce import __doc__ as doc

    default_configs, default_noise = ",".join(DEFAULT_TABLE), ",".join(f"{p:g}" for p in DEFAULT_NOISE)
    parser = argparse.ArgumentParser(prog="python -m quant_snn reproduce", description=doc.splitlines()[0])
    parser.add_argument("--dataset", choices=tuple(DATASETS), default="cifar10")
    parser.add_argument("--configs", default=default_configs,
                        help="comma-separated networks: configurations, each optionally with a label that names its "
                             f"files (k1B2_fast60: model_..._k1B2_fast60.npz, figs/k1B2_fast60/) (default "
                             f"{default_configs})")
    parser.add_argument("--noise", default=default_noise,
                        help=f"noise ratios for the SNN runs (default {default_noise})")
    parser.add_argument("--epochs", type=int, default=None,
                        help="total epochs per configuration (default: the recipe's; original: 400 for the VGG-Net, "
                             "200 for the LeNet)")
    parser.add_argument("--data_dir", type=Path, default=REPO / "data")
    parser.add_argument("--output_dir", type=Path, default=None,
                        help="default: runs/<dataset>/ (git-ignored); --output_dir CIFAR10 rewrites the committed "
                             "table")
    parser.add_argument("--batch_size", type=int, default=None, help="default: the dataset's original (200; MNIST 128)")
    parser.add_argument("--snn_batch_size", type=int, default=None,
                        help="default: the dataset's original (50; MNIST 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="spiking runs on the first LIMIT test images only")
    parser.add_argument("--noise_configs", default=None,
                        help="comma-separated networks that get the noisy SNN runs (default: all quantized)")
    parser.add_argument("--trained_on", action="append", default=None, metavar="[NAME=]TEXT",
                        help="where the reused weights were trained, when not here: TEXT for every row, NAME=TEXT for "
                             "the network NAME's row (repeat the flag; a column of the results table)")
    parser.add_argument("--weights", type=Path, default=None,
                        help="train nothing: take each network's npz from this folder (e.g. CIFAR10/published), "
                             "else from --output_dir")
    parser.add_argument("--train_only", type=literal_bool, default=False, help="stop after training (True/False)")
    add_parallel_flags(parser)
    add_recipe_flags(parser, init=False)
    parser.add_argument("--learning_rate", type=float, default=None,
                        help="learning rate (original: 0.001 for the first half, a tenth after; else the peak)")
    return parser


def reproduce_main(argv: Sequence[str] | None = None) -> int:
    """``python -m quant_snn reproduce``: exit 0, or 2 with one error line before any long work."""
    args = reproduce_parser().parse_args(argv)

    def run() -> None:
        from ..datasets import dataset_spec
        from ..recipes import original_phases, recipe_for
        from ..reproduce import ReproduceConfig, run_all

        noise = parse_noise(args.noise)
        network = dataset_spec(args.dataset).network
        epochs = int(recipe_for(args.recipe, network)["epochs"])
        if args.recipe == "original":
            epochs *= original_phases(network)
        cfg = ReproduceConfig(
            dataset=args.dataset, configs=comma_list(args.configs), noise=noise,
            epochs=args.epochs if args.epochs is not None else epochs, recipe=args.recipe,
            training={key: getattr(args, key) for key in TRAINING_FLAGS}, train_only=args.train_only,
            noise_configs=comma_list(args.noise_configs), trained_on=args.trained_on or [], weights=args.weights,
            data_dir=args.data_dir, output_dir=args.output_dir, batch_size=args.batch_size,
            snn_batch_size=args.snn_batch_size, seed=args.seed, limit=args.limit, distribute=args.distribute,
            cpu_devices=args.cpu_devices, precision=args.precision, steps_per_execution=args.steps_per_execution,
            loop=args.loop,
        )
        if args.cpu_devices:
            from ..distribute import request_cpu_devices

            request_cpu_devices(args.cpu_devices)  # before Keras imports JAX
        performed = run_all(cfg)
        print("done: " + ("; ".join(performed) if performed else "nothing left to do"))

    return run_cli(run, "interrupted: finished steps are kept; run the same command again to resume")


def showcase_parser() -> argparse.ArgumentParser:
    """The showcase's flags (``make run`` passes ``--dataset``, ``--data_dir`` and ``--network``)."""
    from ..showcase import __doc__ as doc

    p = argparse.ArgumentParser(prog="python -m quant_snn showcase", description=doc.splitlines()[0])
    p.add_argument("--dataset", choices=("cifar10", "cifar100"), default="cifar10")
    p.add_argument("--network", default=None,
                   help="a published network by name (e.g. k1B2_original, k0B4_fast60; default: the most accurate "
                        "k1B2), or 'all' for every published network in one table; with --npz, the name of its logs")
    p.add_argument("--npz", type=Path, default=None, help="a network of your own instead of a published one")
    p.add_argument("--data_dir", type=Path, default=REPO / "data")
    p.add_argument("--output_dir", type=Path, default=None, help="default: runs/showcase/<dataset>/ (git-ignored)")
    p.add_argument("--noise", default=None,
                   help="first-layer spike noise ratios (default: 0,0.1,0.2 for k1B2, whose noisy figures the paper "
                        "gives; 0 for the others)")
    p.add_argument("--batch_size", type=int, default=None,
                   help="images per step (default: the original's, 50 for CIFAR); noiseless results do not depend "
                        "on it, the noise draws do")
    p.add_argument("--limit", type=int, default=None, help="only the first LIMIT test images (a quick look)")
    return p


def showcase_main(argv: Sequence[str] | None = None, arch=None) -> int:
    """``python -m quant_snn showcase``: exit 0, or 2 with one error line (``arch``: the dataset's network unless
    given; tests run a small one)."""
    quiet_native_logs()
    args = showcase_parser().parse_args(argv)

    def run() -> None:
        from .. import showcase
        from ..datasets import dataset_spec
        from ..layout import dataset_folder, results_file
        from ..paths import repo_relative

        noise = None if args.noise is None else parse_noise(args.noise)
        if noise is not None and 0.0 not in noise:  # the table and the figures start from the noiseless run
            raise UserError(f"--noise {args.noise} leaves out 0, the noiseless run the table and figures start "
                            f"from: use --noise 0,{args.noise}")
        spec = dataset_spec(args.dataset)
        batch_size = spec.snn_batch_size if args.batch_size is None else args.batch_size
        if batch_size < 1:
            raise UserError(f"--batch_size must be at least 1, got {batch_size}")
        if args.limit is not None and args.limit < 1:
            raise UserError(f"--limit must be at least 1, got {args.limit}")
        output = args.output_dir or REPO / "runs" / "showcase" / args.dataset
        showcase.check_output_dir(output)
        chosen = showcase.chosen_networks(args.dataset, args.network, args.npz, arch)
        from ..data import load_dataset
        from ..weights import read_npz

        data = load_dataset(spec, args.data_dir)
        start, shown, matches = time.perf_counter(), [], []
        where = repo_relative(results_file(dataset_folder(spec), spec))
        for network, npz in chosen:
            info = read_npz(npz)[1]
            ratios = noise or showcase.default_noise(network)
            committed = {ratio: showcase.committed_stats(args.dataset, str(network), ratio) for ratio in ratios}
            print(f"{args.npz or repo_relative(npz)} (sha256 {info.sha256[:16]}..., {info.epochs} epochs, test "
                  f"accuracy as trained {'?' if info.test_accuracy is None else f'{100 * info.test_accuracy:.2f}%'})",
                  flush=True)
            runs = showcase.run_showcase(args.dataset, npz, args.data_dir, output, ratios, batch_size, args.limit,
                                         arch=arch, network=network, data=data, draw=False)
            shown.append(showcase.Shown(str(network), info.epochs, runs))
            matches += [f"{network}, {m}" for m in (showcase.committed_match(stats, committed[ratio], where)
                                                     for ratio, stats in runs) if m]
        showcase.draw_figures(args.dataset, output, [s.name for s in shown], [p for s in shown for p, _ in s.runs])
        figs = output / "figs" if args.output_dir else repo_relative(output / "figs")
        print(f"\n{spec.title}, one time step ({time.perf_counter() - start:.0f} s; logs and figures in {figs})\n")
        print(showcase.table(args.dataset, shown))
        if matches:
            print("\n" + "\n".join(matches))

    return run_cli(run, "interrupted; run the same command again")


def publish_main(argv: Sequence[str] | None = None) -> int:
    """``python -m quant_snn publish NPZ FOLDER``: exit 0, or 2 with one error line and nothing written."""
    from ..publish import __doc__ as doc

    parser = argparse.ArgumentParser(prog="python -m quant_snn publish", description=doc.splitlines()[0])
    parser.add_argument("npz", type=Path, help="trained weights (written by the Quant_* / FP32_* scripts)")
    parser.add_argument("folder", type=Path, help="where the compressed copy and SHA256SUMS go")
    parser.add_argument("--label", default=None,
                        help="publish under the network's name with this label (model_cifar_10_k1B2_LABEL.npz), so "
                             "that two networks of one configuration sit side by side (default: the file's own name)")
    args = parser.parse_args(argv)

    def run() -> None:
        from ..publish import publish

        target, digest = publish(args.npz, args.folder, args.label)
        print(f"{target}: {target.stat().st_size:,} bytes (from {args.npz.stat().st_size:,}), sha256 {digest}")

    return run_cli(run, "interrupted; run the same command again")


def script_path(dataset: str, kind: str) -> str:
    """The original script a dataset command stands for (its folder gives the default output and figure folders)."""
    from ..datasets import dataset_spec

    spec = dataset_spec(dataset)
    return str(REPO / spec.scripts / f"{kind}_{spec.script_name}.py")


def dataset_command(name: str, argv: list[str]) -> int:
    """``train`` / ``spiking`` / ``export`` / ``figures`` DATASET [flags]: the dataset's original scripts."""
    if not argv or argv[0] not in DATASETS:
        print(f"usage: python -m quant_snn {name} {{{','.join(DATASETS)}}} [flags] (--help after the dataset lists "
              "them)", file=sys.stderr)
        return 2
    dataset, rest = argv[0], argv[1:]
    if name == "train":
        fp32 = "--fp32" in rest
        rest = [a for a in rest if a != "--fp32"]
        return training_main(dataset, not fp32, script_path(dataset, "FP32" if fp32 else "Quant"), rest)
    if name == "spiking":
        return spiking_main(dataset, script_path(dataset, "Spiking"), rest)
    if name == "export":
        if "--to" in rest:
            rest[rest.index("--to")] = "--export_nir"
        return spiking_main(dataset, script_path(dataset, "Spiking"), rest)
    from ..figures import FIGURES

    figs = str(Path(script_path(dataset, "Spiking")).parent / "figs" / "training.py")
    status = max(figure_main(figure, dataset, figs, rest) for figure in FIGURES)
    return max(status, curves_main(dataset, figs, []))


COMMANDS = {
    "train": "train a network (a dataset's Quant_* script; --fp32: its FP32_* script)",
    "spiking": "run a trained network as a spiking network on the test set (the Spiking_* script)",
    "export": "write a trained network's spiking form as a NIR graph (--to FILE)",
    "figures": "draw every figure of a dataset folder from its spiking logs and histories",
    "reproduce": "train (or take) networks, run their spiking networks, write the results table and figures",
    "showcase": "run published networks as one-time-step spiking networks beside the paper (make run)",
    "publish": "publish a weights file compressed, with its SHA-256",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``python -m quant_snn <command> ...``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        lines = [f"  {name:<{width}}  {text}" for name, text in COMMANDS.items()]
        print("usage: python -m quant_snn <command> [flags]   (quant-snn <command> once installed)\n\ncommands:\n"
              + "\n".join(lines) + "\n\n'python -m quant_snn <command> --help' lists a command's flags.",
              file=sys.stdout if argv[:1] in (["-h"], ["--help"]) else sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    command, rest = argv[0], argv[1:]
    if command in ("train", "spiking", "export", "figures"):
        return dataset_command(command, rest)
    quiet_native_logs()
    return {"reproduce": reproduce_main, "showcase": showcase_main, "publish": publish_main}[command](rest)
