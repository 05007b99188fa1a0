"""A dataset folder to a GPU machine in parts: each call to that machine carries at most 64 MiB, a dataset more.

    python bench/gpu_stage.py pack --dataset cifar10          # here: data/cifar-10-batches-py -> .stage/parts/part-*/
    python bench/gpu_stage.py receive                         # there, after each call: keep what arrived
    python bench/gpu_stage.py unpack                          # there, once every part is kept: -> data/<folder>/

``pack`` writes the dataset's folder as one xz-compressed tar (the official CIFAR-10 files: 177.1 MiB, 132.9 MiB
packed) cut into parts of at most ``--part_mib`` MiB, each in its own folder ``.stage/parts/part-<i>/`` with the
manifest (size and SHA-256 of every part and of the whole). Call i carries ``.stage/parts/part-<i>`` (git-ignored)
and runs ``receive`` first, which moves the part into ``.stage/kept/``: not carried, so it stays on the machine for
the following calls while the machine is kept (a machine given back between two calls loses it: start again). ``unpack``
checks every part and the whole against the manifest, then extracts into ``data/`` (nothing is written unless all of it
checks out; the manifest's names are checked before any becomes a path). ``pack`` replaces ``--stage`` only when
it is new, empty or an earlier pack's output. ``check`` runs the three steps here, through a scratch folder, as
the machine would see them, one part per simulated call. With ``--bundle FILE``, ``pack`` cuts a lossless WebP bundle of
CIFAR-10 or CIFAR-100 instead (about 106 MB: smaller than the xz tar) and ``unpack`` converts it into the dataset's
folder with ``bench/cifar_from_webp.py`` (``bash bench/gpu_table.sh stage`` picks the part size for the calls).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import math
import os
import re
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._cli import run_main  # noqa: E402
from quant_snn.datasets import DATASETS  # noqa: E402
from quant_snn.errors import UserError  # noqa: E402

MANIFEST = "manifest.json"
# What pack writes, and so all that pack may delete and receive may move: part-<i>/ folders holding the manifest and
# <folder>.tar.xz.<iii> (or, from a WebP bundle, <dataset>_webp.npz.<iii>), and (left by an interrupted pack)
# <folder>.tar.xz itself.
PART_FOLDER = re.compile(r"part-\d+")
PIECE = re.compile(r"[\w.-]+\.(tar\.xz|npz)\.\d{3,}")
WHOLE = re.compile(r"[\w.-]+\.tar\.xz")
KINDS = ("tar.xz", "webp")  # the dataset folder as an xz tar, or a lossless WebP bundle (bench/cifar_from_webp.py)
SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def part_bytes(part_mib: float) -> int:
    """The largest part in bytes: at least one (0 or less wrote "0 parts", nan and inf failed inside the packing)."""
    if not (math.isfinite(part_mib) and part_mib * 2**20 >= 1):
        raise UserError(f"--part_mib must be a finite number of MiB > 0 (at least one byte), got {part_mib:g}")
    return int(part_mib * 2**20)


def check_apart(path: Path, source: Path, flag: str) -> None:
    """Refuse a folder that a step fills or deletes when it is, holds or lies inside the dataset folder itself."""
    here, there = path.resolve(), source.resolve()
    if here == there or there.is_relative_to(here) or here.is_relative_to(there):
        raise UserError(f"{flag} {path} is, holds or lies inside the dataset folder {source}: name another folder")


def is_stage(stage: Path) -> bool:
    """Whether pack may delete ``stage``: absent, empty, or holding nothing but what pack writes (links excluded)."""
    if not stage.exists() and not stage.is_symlink():
        return True
    if stage.is_symlink() or not stage.is_dir():
        return False
    for entry in stage.iterdir():
        if entry.is_symlink():
            return False
        if entry.is_file() and WHOLE.fullmatch(entry.name):
            continue
        if not (entry.is_dir() and PART_FOLDER.fullmatch(entry.name)):
            return False
        if not all(f.is_file() and not f.is_symlink() and (f.name == MANIFEST or PIECE.fullmatch(f.name))
                   for f in entry.iterdir()):
            return False
    return True


def archive_name(dataset: str, kind: str) -> str:
    return f"{DATASETS[dataset].folder}.tar.xz" if kind == "tar.xz" else f"{dataset}_webp.npz"


def pack(dataset: str, data_dir: Path, stage: Path, part_mib: float, bundle: Path | None = None) -> list[Path]:
    """The dataset folder as an xz tar (or the WebP ``bundle`` as it is) cut into parts, one folder per part, each
    with the manifest."""
    spec = DATASETS[dataset]
    source = data_dir / spec.folder
    limit = part_bytes(part_mib)
    if bundle is not None:
        if spec.file_format != "cifar":
            raise UserError(f"--bundle: WebP bundles exist for CIFAR-10 and CIFAR-100, not {dataset}")
        if not bundle.is_file():
            raise UserError(f"--bundle {bundle} not found")
    elif not source.is_dir():
        raise UserError(f"{source} not found: prepare the dataset first (data/README.md)")
    check_apart(stage, source, "--stage")
    if not is_stage(stage):
        raise UserError(f"--stage {stage} holds more than an earlier pack's part-<i> folders: nothing deleted; "
                        "name a new or empty folder")
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    kind = "tar.xz" if bundle is None else "webp"
    if bundle is None:
        whole = stage / archive_name(dataset, kind)
        with tarfile.open(whole, "w:xz", preset=6) as tar:
            tar.add(source, arcname=spec.folder)
    else:
        whole = bundle
    name = archive_name(dataset, kind)
    size = whole.stat().st_size
    parts, folders = [], []
    with open(whole, "rb") as f:
        for i in range(-(-size // limit)):  # ceil(size / limit) parts, read in order
            folder = stage / f"part-{i}"
            folder.mkdir()
            part = folder / f"{name}.{i:03d}"
            part.write_bytes(f.read(limit))
            parts.append({"name": part.name, "size": part.stat().st_size, "sha256": sha256(part)})
            folders.append(folder)
    manifest = {"dataset": dataset, "folder": spec.folder, "kind": kind, "archive": name, "size": size,
                "sha256": sha256(whole), "parts": parts}
    for folder in folders:
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    if bundle is None:
        whole.unlink()
    print(f"{bundle or source} -> {size / 2**20:.1f} MiB in {len(parts)} parts: " + ", ".join(str(f) for f in folders))
    return folders


def receive(stage: Path, staged: Path) -> list[str]:
    """Move the parts that arrived with this call into ``staged``; returns the parts kept so far. Only what pack
    writes is moved (a manifest, ``*.tar.xz.<iii>``), and nothing unless all of it is."""
    if staged.exists() and not staged.is_dir():
        raise UserError(f"--staged {staged} is not a folder")
    folders = [f for f in sorted(stage.glob("part-*")) if PART_FOLDER.fullmatch(f.name)]
    items = [item for folder in folders for item in (folder.iterdir() if folder.is_dir() else [folder])]
    for item in [*folders, *items]:
        if item.is_symlink() or not (item.is_dir() if item in folders else item.is_file()):
            raise UserError(f"{item} is a link or not what pack writes: nothing moved")
        if item not in folders and not (item.name == MANIFEST or PIECE.fullmatch(item.name)):
            raise UserError(f"{item} is not a part or manifest that pack writes: nothing moved")
    staged.mkdir(parents=True, exist_ok=True)
    for item in items:
        shutil.move(str(item), staged / item.name)
    kept = sorted(p.name for p in staged.iterdir() if p.name != MANIFEST)
    missing = missing_parts(staged)
    print(f"kept {len(kept)} parts in {staged}" + (f"; still to come: {', '.join(missing)}" if missing else
                                                      "; complete: run unpack"))
    return kept


def is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_manifest(path: Path) -> dict:
    """The manifest, every field checked before any name in it becomes a path: the folder must be the dataset's,
    the archive and part names exactly those pack writes (plain file names, so none reaches outside ``staged``)."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: not a readable manifest ({exc})") from None
    keys = ("dataset", "folder", "archive", "size", "sha256", "parts")
    if not isinstance(manifest, dict) or any(key not in manifest for key in keys):
        raise UserError(f"{path}: not a manifest (a JSON object with {', '.join(keys)})")
    spec = DATASETS.get(manifest["dataset"]) if isinstance(manifest["dataset"], str) else None
    if spec is None:
        raise UserError(f"{path}: unknown dataset {manifest['dataset']!r}")
    kind = manifest.setdefault("kind", "tar.xz")
    if kind not in KINDS or (kind == "webp" and spec.file_format != "cifar"):
        raise UserError(f"{path}: kind must be one of {', '.join(KINDS)} (webp for CIFAR only), got {kind!r}")
    archive, parts = archive_name(manifest["dataset"], kind), manifest["parts"]
    if manifest["folder"] != spec.folder or manifest["archive"] != archive:
        raise UserError(f"{path}: folder and archive must be {spec.folder!r} and {archive!r} (plain names), got "
                        f"{manifest['folder']!r} and {manifest['archive']!r}")
    if not (is_size(manifest["size"]) and isinstance(manifest["sha256"], str) and SHA256.fullmatch(manifest["sha256"])):
        raise UserError(f"{path}: size must be a whole number >= 0 and sha256 64 lowercase hex digits")
    if not isinstance(parts, list) or not parts:
        raise UserError(f"{path}: parts must be a list of at least one part")
    for i, part in enumerate(parts):
        name = f"{archive}.{i:03d}"
        if not (isinstance(part, dict) and part.get("name") == name and is_size(part.get("size"))
                and isinstance(part.get("sha256"), str) and SHA256.fullmatch(part["sha256"])):
            raise UserError(f"{path}: part {i} must be {{\"name\": {name!r}, \"size\": whole number >= 0, "
                            f"\"sha256\": 64 lowercase hex digits}}, got {part!r}")
    if sum(part["size"] for part in parts) != manifest["size"]:
        raise UserError(f"{path}: the parts' sizes do not add up to the archive's size")
    return manifest


def missing_parts(staged: Path) -> list[str]:
    manifest = staged / MANIFEST
    if not manifest.is_file():
        return ["all (no manifest yet)"]
    return [p["name"] for p in read_manifest(manifest)["parts"] if not (staged / p["name"]).is_file()]


def members_of(folder: str) -> Callable[[tarfile.TarInfo, str], tarfile.TarInfo]:
    """A tar filter that lets through only files and folders inside ``folder/`` (a dataset holds no links, absolute
    names or ``..``), then applies tarfile's own ``data`` filter."""

    def check(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
        parts = PurePosixPath(member.name).parts
        if not (member.isfile() or member.isdir()) or parts[:1] != (folder,) or ".." in parts:
            raise UserError(f"the archive holds {member.name!r}, not a file or folder in {folder}/: nothing unpacked")
        return tarfile.data_filter(member, path)

    return check


def join_parts(staged: Path, manifest: dict, out: Path) -> None:
    """The parts, each checked against the manifest, written one after the other to ``out``; then the whole."""
    whole = hashlib.sha256()
    with open(out, "wb") as joined:
        for part in manifest["parts"]:
            path, digest = staged / part["name"], hashlib.sha256()
            if path.is_symlink() or path.stat().st_size != part["size"]:
                raise UserError(f"{path} is damaged (a link, or its size differs from the manifest)")
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(2**20), b""):
                    digest.update(block)
                    whole.update(block)
                    joined.write(block)
            if digest.hexdigest() != part["sha256"]:
                raise UserError(f"{path} is damaged (SHA-256 differs from the manifest)")
    if whole.hexdigest() != manifest["sha256"]:
        raise UserError("the joined archive's SHA-256 differs from the manifest")


def unpack(staged: Path, data_dir: Path) -> Path:
    """Check the manifest, every part and the whole, then extract the folder into ``data_dir``. The archive is
    joined in a temporary file in ``staged`` and extracted into a temporary folder in ``data_dir``: both go, whatever
    happens, and only the complete folder is moved to its place."""
    missing = missing_parts(staged)
    if missing:
        raise UserError(f"cannot unpack: missing {', '.join(missing)} in {staged}")
    manifest = read_manifest(staged / MANIFEST)
    target = data_dir / manifest["folder"]
    if target.exists() or target.is_symlink():
        raise UserError(f"{target} exists already: nothing unpacked")
    if data_dir.exists() and not data_dir.is_dir():
        raise UserError(f"--data_dir {data_dir} is not a folder")
    handle, name = tempfile.mkstemp(dir=staged, prefix=".joining-", suffix="." + manifest["archive"].split(".", 1)[1])
    os.close(handle)
    joined = Path(name)
    try:
        join_parts(staged, manifest, joined)
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=data_dir, prefix=".stage-") as tmp:
            if manifest["kind"] == "webp":
                from bench.cifar_from_webp import BundleError, convert

                try:
                    convert(manifest["dataset"], joined, Path(tmp) / manifest["folder"], os.cpu_count() or 1)
                except BundleError as exc:
                    raise UserError(f"cannot convert the joined bundle: {exc}: nothing unpacked") from None
            else:
                try:
                    with tarfile.open(joined, "r:xz") as tar:
                        tar.extractall(tmp, filter=members_of(manifest["folder"]))
                except (tarfile.TarError, lzma.LZMAError, EOFError) as exc:
                    raise UserError(f"cannot extract the joined archive: {exc}: nothing unpacked") from None
            folder = Path(tmp) / manifest["folder"]
            if folder.is_symlink() or not folder.is_dir():
                raise UserError(f"the archive holds no folder {manifest['folder']}: nothing unpacked")
            folder.rename(target)
    finally:
        joined.unlink(missing_ok=True)
    print(f"unpacked {target}")
    return target


def check(dataset: str, data_dir: Path, part_mib: float, bundle: Path | None = None) -> bool:
    """pack, then per part a fresh 'call' that carries only that part and runs receive, then unpack: the result
    must hold the very files of the source folder (with ``bundle``: of the folder converted here beforehand)."""
    spec = DATASETS[dataset]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        if bundle is not None and not (data_dir / spec.folder).is_dir():
            raise UserError(f"{data_dir / spec.folder} not found: convert the bundle here first to compare with it "
                            "(python bench/cifar_from_webp.py)")
        folders = pack(dataset, data_dir, scratch / "here", part_mib, bundle)
        machine = scratch / "machine"
        for folder in folders:  # one call each: the carried part replaces .stage/parts, .stage/kept stays
            stage = machine / ".stage" / "parts"
            if stage.exists():
                shutil.rmtree(stage)
            shutil.copytree(folder, stage / folder.name)
            receive(stage, machine / ".stage" / "kept")
        target = unpack(machine / ".stage" / "kept", machine / "data")
        source = data_dir / spec.folder
        names = sorted(p.name for p in source.iterdir())
        same = names == sorted(p.name for p in target.iterdir()) and all(
            sha256(source / n) == sha256(target / n) for n in names)
        print(f"check: {len(names)} files of {source} " + ("arrived identical" if same else "DIFFER"))
        return same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("pack", "receive", "unpack", "check"))
    parser.add_argument("--dataset", choices=tuple(DATASETS), default="cifar10")
    parser.add_argument("--data_dir", type=Path, default=ROOT / "data")
    parser.add_argument("--stage", type=Path, default=ROOT / ".stage" / "parts")
    parser.add_argument("--staged", type=Path, default=ROOT / ".stage" / "kept")
    parser.add_argument("--part_mib", type=float, default=48.0, help="largest part (MiB; default 48)")
    parser.add_argument("--bundle", type=Path, default=None,
                        help="pack this lossless WebP bundle (CIFAR) instead of the dataset folder; unpack converts it")
    args = parser.parse_args(argv)
    source = args.data_dir / DATASETS[args.dataset].folder
    if args.step == "pack":
        pack(args.dataset, args.data_dir, args.stage, args.part_mib, args.bundle)
    elif args.step == "receive":
        check_apart(args.stage, source, "--stage")
        check_apart(args.staged, source, "--staged")
        receive(args.stage, args.staged)
    elif args.step == "unpack":
        unpack(args.staged, args.data_dir)
    else:
        return 0 if check(args.dataset, args.data_dir, args.part_mib, args.bundle) else 1
    return 0


if __name__ == "__main__":
    run_main(main)
