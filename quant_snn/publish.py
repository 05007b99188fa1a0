"""Published weights: a trained npz rewritten compressed (the same members, byte for byte once unpacked), listed
with its SHA-256 in the folder's ``SHA256SUMS``, so that anyone can check the file before trusting its numbers.

    python -m quant_snn.publish runs/c10/model_cifar_10_k1B2.npz CIFAR10/published

Ternary kernels are mostly runs of -1, 0 and 1 in float32: deflated, the VGG-Net's 20 MB of weights take a few MB.
The result is still the original npz format (``np.load`` and the project's restricted loader read it unchanged).
"""

from __future__ import annotations

import argparse
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .atomic import atomic_write, atomic_write_text
from .errors import UserError

SUMS_FILE = "SHA256SUMS"


def compress_npz(source: str | os.PathLike, target: str | os.PathLike) -> str:
    """Write ``source``'s members deflated into ``target`` (atomically), check that both read back to the same
    params and metadata, and return the new file's SHA-256."""
    from .weights import file_sha256, read_npz

    source, target = Path(source), Path(target)
    params, info = read_npz(source)  # refuses anything that is not a weights file, before writing
    with zipfile.ZipFile(source) as zin:
        members = [(item.filename, zin.read(item.filename)) for item in zin.infolist()]

    def write(f) -> None:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zout:
            for name, data in members:
                zout.writestr(name, data)

    atomic_write(target, write)
    again, again_info = read_npz(target)
    same = len(again) == len(params) and all(np.array_equal(a, b) for a, b in zip(again, params, strict=True))
    if not same or {**vars(again_info), "sha256": None} != {**vars(info), "sha256": None}:
        target.unlink()
        raise UserError(f"{target} does not read back as {source}; removed")
    return file_sha256(target)


def recorded_sums(folder: Path) -> dict[str, str]:
    """File name -> SHA-256 from the folder's ``SHA256SUMS`` (the ``sha256sum`` format)."""
    path = folder / SUMS_FILE
    sums = {}
    for line in path.read_text().splitlines() if path.is_file() else []:
        digest, _, name = line.partition("  ")
        if name:
            sums[name.strip()] = digest.strip()
    return sums


def record_sum(folder: Path, name: str, digest: str) -> None:
    sums = {**recorded_sums(folder), name: digest}
    text = "".join(f"{sums[n]}  {n}\n" for n in sorted(sums))
    atomic_write_text(folder / SUMS_FILE, text)


def check_published(path: str | os.PathLike) -> str:
    """The SHA-256 of a published file, after checking it against its folder's ``SHA256SUMS`` (a damaged copy,
    or a Git LFS pointer in place of the file, stops here with one line)."""
    from .weights import file_sha256

    path = Path(path)
    if not path.is_file():
        raise UserError(f"published weights {path} not found (a complete clone of the repository has them)")
    expected = recorded_sums(path.parent).get(path.name)
    if expected is None:
        raise UserError(f"{path.parent / SUMS_FILE} lists no {path.name}")
    digest = file_sha256(path)
    if digest != expected:
        raise UserError(f"{path} has SHA-256 {digest[:16]}..., not the published {expected[:16]}...: "
                        "the file is damaged or not the published one (check it out again)")
    return digest


def main(argv: Sequence[str] | None = None) -> int:
    from .cli import run_cli

    parser = argparse.ArgumentParser(prog="python -m quant_snn.publish", description=__doc__.splitlines()[0])
    parser.add_argument("npz", type=Path, help="trained weights (written by the Quant_* / FP32_* scripts)")
    parser.add_argument("folder", type=Path, help="where the compressed copy and SHA256SUMS go")
    args = parser.parse_args(argv)

    def run() -> None:
        args.folder.mkdir(parents=True, exist_ok=True)
        target = args.folder / args.npz.name
        digest = compress_npz(args.npz, target)
        record_sum(args.folder, target.name, digest)
        print(f"{target}: {target.stat().st_size:,} bytes (from {args.npz.stat().st_size:,}), sha256 {digest}")

    return run_cli(run, "interrupted; run the same command again")


if __name__ == "__main__":
    raise SystemExit(main())
