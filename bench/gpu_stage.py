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
checks out). ``check`` runs the three steps here, through a scratch folder, as the machine would see them, one part per
simulated call.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quant_snn.datasets import DATASETS  # noqa: E402

MANIFEST = "manifest.json"


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def pack(dataset: str, data_dir: Path, stage: Path, part_mib: float) -> list[Path]:
    """The dataset folder as an xz tar cut into parts, one folder per part, each with the manifest."""
    spec = DATASETS[dataset]
    source = data_dir / spec.folder
    if not source.is_dir():
        raise SystemExit(f"{source} not found: prepare the dataset first (data/README.md)")
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    whole = stage / f"{spec.folder}.tar.xz"
    with tarfile.open(whole, "w:xz", preset=6) as tar:
        tar.add(source, arcname=spec.folder)
    size, limit = whole.stat().st_size, int(part_mib * 2**20)
    parts, folders = [], []
    with open(whole, "rb") as f:
        for i in range(-(-size // limit)):  # ceil(size / limit) parts, read in order
            folder = stage / f"part-{i}"
            folder.mkdir()
            part = folder / f"{whole.name}.{i:03d}"
            part.write_bytes(f.read(limit))
            parts.append({"name": part.name, "size": part.stat().st_size, "sha256": sha256(part)})
            folders.append(folder)
    manifest = {"dataset": dataset, "folder": spec.folder, "archive": whole.name, "size": size,
                "sha256": sha256(whole), "parts": parts}
    for folder in folders:
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    whole.unlink()
    print(f"{source} -> {size / 2**20:.1f} MiB in {len(parts)} parts: " + ", ".join(str(f) for f in folders))
    return folders


def receive(stage: Path, staged: Path) -> list[str]:
    """Move the parts that arrived with this call into ``staged``; returns the parts kept so far."""
    staged.mkdir(parents=True, exist_ok=True)
    for folder in sorted(stage.glob("part-*")):
        for item in folder.iterdir():
            shutil.move(str(item), staged / item.name)
    kept = sorted(p.name for p in staged.iterdir() if p.name != MANIFEST)
    missing = missing_parts(staged)
    print(f"kept {len(kept)} parts in {staged}" + (f"; still to come: {', '.join(missing)}" if missing else
                                                      "; complete: run unpack"))
    return kept


def missing_parts(staged: Path) -> list[str]:
    manifest = staged / MANIFEST
    if not manifest.is_file():
        return ["all (no manifest yet)"]
    return [p["name"] for p in json.loads(manifest.read_text())["parts"] if not (staged / p["name"]).is_file()]


def unpack(staged: Path, data_dir: Path) -> Path:
    """Check every part and the whole against the manifest, then extract the folder into ``data_dir``."""
    missing = missing_parts(staged)
    if missing:
        raise SystemExit(f"cannot unpack: missing {', '.join(missing)} in {staged}")
    manifest = json.loads((staged / MANIFEST).read_text())
    for part in manifest["parts"]:
        if sha256(staged / part["name"]) != part["sha256"]:
            raise SystemExit(f"{staged / part['name']} is damaged (SHA-256 differs from the manifest)")
    target = data_dir / manifest["folder"]
    if target.exists():
        raise SystemExit(f"{target} exists already: nothing unpacked")
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".stage-") as tmp:
        whole = Path(tmp) / manifest["archive"]
        with open(whole, "wb") as out:
            for part in manifest["parts"]:
                out.write((staged / part["name"]).read_bytes())
        if sha256(whole) != manifest["sha256"]:
            raise SystemExit("the joined archive's SHA-256 differs from the manifest")
        with tarfile.open(whole, "r:xz") as tar:
            tar.extractall(tmp, filter="data")
        (Path(tmp) / manifest["folder"]).rename(target)
    print(f"unpacked {target}")
    return target


def check(dataset: str, data_dir: Path, part_mib: float) -> None:
    """pack, then per part a fresh 'call' that carries only that part and runs receive, then unpack: the result
    must hold the very files of the source folder."""
    spec = DATASETS[dataset]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        folders = pack(dataset, data_dir, scratch / "here", part_mib)
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
        if not same:
            raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("pack", "receive", "unpack", "check"))
    parser.add_argument("--dataset", choices=tuple(DATASETS), default="cifar10")
    parser.add_argument("--data_dir", type=Path, default=ROOT / "data")
    parser.add_argument("--stage", type=Path, default=ROOT / ".stage" / "parts")
    parser.add_argument("--staged", type=Path, default=ROOT / ".stage" / "kept")
    parser.add_argument("--part_mib", type=float, default=48.0, help="largest part (MiB; default 48)")
    args = parser.parse_args()
    if args.step == "pack":
        pack(args.dataset, args.data_dir, args.stage, args.part_mib)
    elif args.step == "receive":
        receive(args.stage, args.staged)
    elif args.step == "unpack":
        unpack(args.staged, args.data_dir)
    else:
        check(args.dataset, args.data_dir, args.part_mib)


if __name__ == "__main__":
    main()
