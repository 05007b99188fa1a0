"""Published weights: a trained npz rewritten compressed (the same members, byte for byte once unpacked), listed
with its SHA-256 in the folder's ``SHA256SUMS``, so that anyone can check the file before trusting its numbers.

    python -m quant_snn publish runs/c10/model_cifar_10_k1B2.npz CIFAR10/published --label fast60
    # -> CIFAR10/published/model_cifar_10_k1B2_fast60.npz

Ternary kernels are mostly runs of -1, 0 and 1 in float32: deflated, the VGG-Net's 20 MB of weights take a few MB.
The result is still the original npz format (``np.load`` and the project's restricted loader read it unchanged).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .atomic import atomic_write, atomic_write_text
from .errors import UserError

SUMS_FILE = "SHA256SUMS"


def compress_npz(source: str | os.PathLike, target: str | os.PathLike, level: int = 9) -> str:
    """Write ``source``'s members deflated into ``target`` (atomically), check that both read back to the same
    params and metadata, and return the new file's SHA-256. Published files use ``level`` 9 (about 22 s for the
    VGG-Net, 17% smaller than level 6 in 1 s); a copy in transit may take 6: publishing it gives the same bytes."""
    from .weights import file_sha256, read_npz

    source, target = Path(source), Path(target)
    params, info = read_npz(source)  # refuses anything that is not a weights file, before writing
    if target.resolve() == source.resolve():
        raise UserError(f"{source} would be replaced by its own compressed copy: publish into another folder")
    with zipfile.ZipFile(source) as zin:
        members = [(item, zin.read(item.filename)) for item in zin.infolist()]

    def write(f) -> None:
        # each member keeps its source's time stamp, so the same npz always gives the same bytes (and SHA-256)
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zout:
            for item, data in members:
                zout.writestr(zipfile.ZipInfo(item.filename, item.date_time), data, zipfile.ZIP_DEFLATED, level)

    atomic_write(target, write)
    again, again_info = read_npz(target)
    same = len(again) == len(params) and all(np.array_equal(a, b) for a, b in zip(again, params, strict=True))
    if not same or {**vars(again_info), "sha256": None} != {**vars(info), "sha256": None}:
        target.unlink()
        raise UserError(f"{target} does not read back as {source}; removed")
    return file_sha256(target)


def recorded_sums(folder: Path) -> dict[str, str]:
    """File name -> SHA-256 (lower case) from the folder's ``SHA256SUMS``, in ``sha256sum``'s format (text
    ``digest  name`` or binary ``digest *name`` lines, digests in either case), so that ``sha256sum -c SHA256SUMS``
    checks the same files; a file that is not such a list is one error line."""
    path = folder / SUMS_FILE
    if not path.is_file():
        return {}
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} cannot be read as a list of SHA-256 sums ({exc}); restore it from git") from None
    sums = {}
    for number, line in enumerate(lines, 1):
        digest, _, name = line.partition(" ")
        name = name[1:] if name[:1] in (" ", "*") else name
        if not line.strip():
            continue
        if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest) or not name.strip():
            raise UserError(f"{path} line {number} is not a 'digest  name' line of sha256sum; restore it from git")
        sums[name.strip()] = digest.lower()
    return sums


def record_sum(folder: Path, name: str, digest: str) -> None:
    """Add or replace ``name``'s line in the folder's ``SHA256SUMS``, keeping the other files' lines."""
    sums = {**recorded_sums(folder), name: digest}
    text = "".join(f"{sums[n]}  {n}\n" for n in sorted(sums))
    atomic_write_text(folder / SUMS_FILE, text)


def check_published(path: str | os.PathLike) -> str:
    """The SHA-256 of a published file, after checking it against its folder's ``SHA256SUMS`` (a damaged copy,
    or a Git LFS pointer in place of the file, stops here with one line)."""
    from .weights import file_sha256

    path = Path(path)
    if not path.is_file():
        raise UserError(f"published weights {path} not found (README_VGG.md lists what is published); "
                        "pass a k1B2 network of your own with --npz")
    expected = recorded_sums(path.parent).get(path.name)
    if expected is None:
        raise UserError(f"{path.parent / SUMS_FILE} lists no {path.name}")
    digest = file_sha256(path)
    if digest != expected:
        raise UserError(f"{path} has SHA-256 {digest[:16]}..., not the published {expected[:16]}...: "
                        "the file is damaged or not the published one (check it out again)")
    return digest


def publish(npz: Path, folder: Path, label: str | None = None) -> tuple[Path, str]:
    """Publish ``npz`` into ``folder`` (named ``model_..._<config>_<label>.npz`` with a label, else by its own name):
    the compressed copy and its SHA256SUMS line; returns the new file and its SHA-256. Nothing is written when the
    file is not a weights file or the label cannot name one."""
    from .atomic import writable_folder
    from .layout import RunLayout
    from .names import NetworkName
    from .weights import read_npz

    info = read_npz(npz)[1]  # a file that is not a weights file is refused before the folder is made
    target = folder / npz.name
    if label is not None:
        if info.dataset is None or info.quant is None:
            raise UserError(f"{npz} records no dataset or configuration to name it by; publish it under its own name")
        NetworkName(info.quant, label)  # the label is checked before anything is written
        target = RunLayout.of(folder, info.dataset, info.quant, label).npz
    writable_folder(folder, "publishing folder")
    recorded_sums(folder)  # a sums file that cannot take the new line stops here, before the copy is written
    digest = compress_npz(npz, target)
    record_sum(folder, target.name, digest)
    return target, digest
