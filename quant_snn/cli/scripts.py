"""Entry points of the original scripts (``Quant_*``, ``FP32_*``, ``Spiking_*``, ``figs/*.py``), which stay thin:
argument parsing here, the work in the library modules. The original flags work as written in docs/DESIGN.md
(``--resume`` takes a Python literal such as ``True``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..quiet import quiet_native_logs
from .flags import (
    add_common_flags,
    add_parallel_flags,
    add_quant_flags,
    add_recipe_flags,
    literal_bool,
    recipe_settings,
    run_cli,
)


def training_parser(dataset: str, quantized: bool, script_path: str) -> argparse.ArgumentParser:
    from ..datasets import dataset_spec

    spec = dataset_spec(dataset)
    kind = "quantized (ternary weights, k/B activations)" if quantized else "full-precision"
    parser = argparse.ArgumentParser(
        description=f"Train or evaluate the {kind} {spec.architecture.title} on {spec.title}.")
    if quantized:
        add_quant_flags(parser)
    parser.add_argument("--resume", type=literal_bool, default=False, help="continue from the checkpoint (True/False)")
    parser.add_argument("--overwrite", type=literal_bool, default=False,
                        help="with --resume False over an earlier run: move its files into a time-stamped folder "
                             "and start anew (default False: refuse)")
    from ..recipes import recipe_for

    parser.add_argument("--learning_rate", type=float, default=None,
                        help="learning rate, the peak of a decaying schedule (default "
                             f"{recipe_for('original', spec.network)['learning_rate']:g})")
    parser.add_argument("--mode", choices=("training", "inference"), default="training",
                        help="training, or inference: print the saved model's test loss and accuracy")
    parser.add_argument("--epochs", type=int, default=None,
                        help="constant schedule: epochs to train in this run (default 200); cosine/onecycle: the "
                             "schedule's length, which a resumed run finishes")
    add_recipe_flags(parser)
    parser.add_argument("--batch_size", type=int, default=spec.batch_size,
                        help=f"batch size (default {spec.batch_size})")
    parser.add_argument("--output_dir", type=Path, default=Path(script_path).resolve().parent,
                        help="where checkpoint, weights npz and history go (default: this script's folder)")
    parser.add_argument("--npz", type=Path, default=None, help="inference: evaluate this weights file instead")
    parser.add_argument("--label", default=None,
                        help="name this network beside others of the same configuration: files and logs get "
                             "_LABEL after the configuration (e.g. --label fast60: model_..._k1B2_fast60.npz)")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                        help="Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch")
    add_parallel_flags(parser)
    add_common_flags(parser, script_path)
    return parser


def training_main(dataset: str, quantized: bool, script_path: str, argv: Sequence[str] | None = None) -> int:
    """Entry point of ``Quant_VGG_*.py`` (quantized=True) and ``FP32_VGG_*.py`` (quantized=False)."""
    quiet_native_logs()
    args = training_parser(dataset, quantized, script_path).parse_args(argv)

    def main() -> None:
        from ..datasets import dataset_spec
        from ..quant_config import FP32, QuantConfig

        quant = QuantConfig(args.k, args.B) if quantized else FP32
        recipe = recipe_settings(args, dataset_spec(dataset).network)
        if args.cpu_devices:
            from ..distribute import request_cpu_devices

            request_cpu_devices(args.cpu_devices)  # before Keras imports JAX
        from ..train import RunConfig, evaluate, train  # imports Keras: after the flags are known to be sane

        cfg = RunConfig(
            dataset=dataset, quant=quant, data_dir=args.data_dir, output_dir=args.output_dir, mode=args.mode,
            resume=args.resume, batch_size=args.batch_size, seed=args.seed, verbose=args.verbose,
            inference_npz=args.npz, distribute=args.distribute, cpu_devices=args.cpu_devices, precision=args.precision,
            steps_per_execution=args.steps_per_execution, loop=args.loop, init_npz=args.init_npz,
            overwrite=args.overwrite, label=args.label, **recipe,
        )
        if cfg.mode == "inference":
            loss, accuracy = evaluate(cfg)
            print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f} ({cfg.inference_npz or cfg.npz_path})")
        else:
            history = train(cfg)
            last = history[-1]
            print(f"finished epoch {last['epoch']}: test accuracy {last['test_accuracy']:.4f}")

    return run_cli(main)


def spiking_parser(dataset: str, script_path: str) -> argparse.ArgumentParser:
    from ..datasets import dataset_spec

    spec = dataset_spec(dataset)
    parser = argparse.ArgumentParser(
        description=f"Convert the quantized {spec.architecture.title} into a spiking network and run the {spec.title} "
                    "test set."
    )
    add_quant_flags(parser)
    parser.add_argument("--noise_ratio", type=float, default=0.0,
                        help="drop each first-layer spike with this probability")
    parser.add_argument("--npz", type=Path, default=None,
                        help=f"weights file (default: {spec.npz_stem}_k{{k}}B{{B}}[_LABEL].npz beside this script)")
    parser.add_argument("--label", default=None,
                        help="name this network beside others of the same configuration: files and logs get "
                             "_LABEL after the configuration (e.g. --label fast60: reads "
                             "model_..._k1B2_fast60.npz, logs into figs/k1B2_fast60/)")
    parser.add_argument("--batch_size", type=int, default=spec.snn_batch_size,
                        help=f"test images per batch (default {spec.snn_batch_size}, as the original)")
    parser.add_argument("--time_steps", type=int, default=1, help="time steps; input at t=0, zeros after (default 1)")
    parser.add_argument("--noise_layers", choices=("first", "all"), default="first",
                        help="which layers' spikes the noise drops (default: first, as the original)")
    parser.add_argument("--figs_dir", type=Path, default=Path(script_path).resolve().parent / "figs",
                        help="logs go to FIGS_DIR/k{k}B{B}[_LABEL][_noise{p}]/ (default: figs/ beside this script)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first LIMIT test images")
    parser.add_argument("--xla", type=literal_bool, default=True,
                        help="compile with XLA on TensorFlow and JAX (default True; the results do not depend on it)")
    parser.add_argument("--export_nir", type=Path, default=None,
                        help="write the spiking network as a NIR graph to this file and stop (no evaluation)")
    parser.add_argument("--overwrite", type=literal_bool, default=False,
                        help="let --export_nir replace an existing file (default False: refuse; never the npz)")
    add_common_flags(parser, script_path)
    return parser


def spiking_main(dataset: str, script_path: str, argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``Spiking_*.py`` scripts."""
    quiet_native_logs()
    args = spiking_parser(dataset, script_path).parse_args(argv)

    def main() -> None:
        from ..layout import RunLayout
        from ..names import NetworkName
        from ..quant_config import QuantConfig

        quant = QuantConfig(args.k, args.B)
        NetworkName(quant, args.label)  # a label that cannot name files: one error line before anything is read
        npz = args.npz or RunLayout.of(Path(script_path).resolve().parent, dataset, quant, args.label).npz
        if args.export_nir is not None:
            return export_nir_main(dataset, quant, npz, args.export_nir, args.overwrite)
        from ..spiking_eval import SpikingRunConfig, run_spiking

        cfg = SpikingRunConfig(
            dataset=dataset, quant=quant, npz=npz, data_dir=args.data_dir, figs_dir=args.figs_dir,
            batch_size=args.batch_size, time_steps=args.time_steps, noise_ratio=args.noise_ratio,
            noise_layers=args.noise_layers, seed=args.seed, limit=args.limit, xla=args.xla, label=args.label,
        )
        stats = run_spiking(cfg)
        images = stats.config.images
        print(f"SNN accuracy {stats.snn_accuracy:.4f} at T={cfg.time_steps} "
              f"({cfg.name}, noise {cfg.noise_ratio:g})")
        print(f"ANN accuracy {stats.ann_accuracy:.4f} (same npz, decided in float64)")
        print(f"images classified differently by SNN and ANN: {stats.differing_images} of {images}")
        print(f"float32 ANN (as trained): accuracy {stats.float32_ann_accuracy:.4f}, "
              f"{stats.float32_differing_images} of {images} images classified differently from the SNN")
        print(f"per image: {stats.spikes_per_image:.4g} spikes, {stats.sops_per_image:.4g} SOPs (original "
              f"accounting), {stats.conventional_sops_per_image:.4g} SOPs (fan-out), "
              f"{stats.ann_macs_per_image:.4g} ANN MACs")
        print(f"logs: {cfg.log_dir}")

    return run_cli(main, "interrupted before the end of the test set; run the same command again")


def export_nir_main(dataset: str, quant, npz: Path, target: Path, overwrite: bool = False) -> None:
    """``--export_nir``: check the target and the npz against the flags like an evaluation would, then write the NIR
    graph."""
    from ..atomic import check_new_file
    from ..datasets import dataset_spec
    from ..export import integer_network
    from ..nir_export import write_nir
    from ..weights import check_npz, read_npz, unconfirmed

    check_new_file(target, overwrite=overwrite, inputs=(npz,))
    arch = dataset_spec(dataset).architecture
    params, info = read_npz(npz)
    check_npz(npz, params, info, dataset=dataset, quant=quant, arch=arch)
    warning = unconfirmed(npz, info, quant)
    if warning:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    net = integer_network(params, quant, arch)
    write_nir(net, target)
    print(f"wrote {target}: NIR graph of the {quant.tag} spiking network from {npz} "
          f"({len(net.convs)} convolutions x {quant.n_thresholds} threshold nodes, one time step)")


def figure_main(figure: str, dataset: str, script_path: str, argv: Sequence[str] | None = None) -> int:
    """Entry point of ``figs/<figure>.py``: plots the logs found beside the script (or in ``--figs_dir``)."""
    from ..datasets import dataset_spec

    spec = dataset_spec(dataset)
    parser = argparse.ArgumentParser(description=f"Plot the {figure} figure from the spiking logs of {spec.title}.")
    parser.add_argument("--figs_dir", type=Path, default=Path(script_path).resolve().parent,
                        help="folder holding the k{k}B{B}/ log folders (default: this script's folder)")
    parser.add_argument("--configs", default=None,
                        help="comma-separated networks, e.g. k0B1,k1B2 or k1B2_original,k1B2_fast60 (default: "
                             "every noiseless log folder found; where there is none, k0B1,k0B2,k1B2)")
    args = parser.parse_args(argv)

    def main() -> None:
        from ..figures import FIGURES

        configs = [c.strip() for c in args.configs.split(",") if c.strip()] if args.configs else None
        spiking = f"{spec.scripts}/Spiking_{spec.script_name}.py"
        for path in FIGURES[figure](args.figs_dir, configs, spiking):
            print(f"saved {path}")

    return run_cli(main, "interrupted")


def curves_main(dataset: str, script_path: str, argv: Sequence[str] | None = None) -> int:
    """Entry point of ``figs/training.py``: per-epoch test accuracy from the dataset folder's ``histories/``."""
    from ..datasets import dataset_spec

    here = Path(script_path).resolve().parent
    parser = argparse.ArgumentParser(
        description=f"Plot per-epoch test accuracy of {dataset_spec(dataset).title} training runs.")
    parser.add_argument("--histories", type=Path, default=here.parent / "histories",
                        help="folder of {config}_{recipe}.csv histories (default: ../histories)")
    parser.add_argument("--figs_dir", type=Path, default=here, help="where training.png goes (default: here)")
    parser.add_argument("--focus", default="k1B2", help="configuration whose recipes are compared (default k1B2)")
    parser.add_argument("--recipe", default=None,
                        help="recipe shown across configurations (default: the one most configurations have)")
    args = parser.parse_args(argv)

    def main() -> None:
        from ..curves import training_figure

        for path in training_figure(args.histories, args.figs_dir, args.focus, args.recipe):
            print(f"saved {path}")

    return run_cli(main, "interrupted")


