"""Build the folders that travel to the device machine (run HERE, before the first device call).

    python scripts/device/build_carry.py                     # pixel + deid, real CIFAR-10 from the cache
    python scripts/device/build_carry.py --chapters pixel    # the pixel run only
    python scripts/device/build_carry.py --toy --out DIR     # toy batch files (own md5 list), no download

Steps (each skipped when its output is already there and still matches its sources):

1. CIFAR-10: every file of ``$PPSTUDY_DATA/cifar10/cifar-10-batches-py/`` (or ``--cifar-dir``) is checked
   against the official md5 list and xz-compressed into ``c1``/``c2``/``c3`` (:data:`ppdev.CALL_FILES`).
   ``--toy`` writes tiny batch files in the real pickle format first and uses their own md5 list.
2. Wheels: the chapters' run-time packages (pinned to the versions installed here) and their requirements,
   for CPython 3.12 manylinux x86_64, downloaded with ``pip download --only-binary=:all:``; a wheel is kept
   only when the device image lacks the distribution (``device_packages.txt``) and it is needed at run time.
   The base set goes to ``c1``; of the deid-only set, the largest wheel (mini-racer) goes to ``d2``, the
   others to ``d1``.
3. The commit stamp (``c3/commit.txt``) and, for deid, the imagetracerjs files from the local cache (``d1``).
4. Sizes: the working tree (tracked + untracked, not ignored) plus each call's folders must stay under
   64 MiB; ``SIZES.json`` and a printed table give every figure.
"""

from __future__ import annotations

import argparse
import pickle
import re
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ppdev

HERE = Path(__file__).resolve().parent
#: run-time packages of every chapter run (the jupyter stack that ``ppstudy run`` executes notebooks with)
BASE_PACKAGES = ("papermill", "jupytext", "nbformat", "nbclient", "ipykernel", "jupyter-client")
#: extra run-time packages of the deid chapter
DEID_PACKAGES = ("pyope", "vtracer", "resvg-py", "mini-racer")
#: declared requirements that are not needed to execute a notebook (ipykernel imports debugpy only for
#: the debugger, IPython imports jedi only for tab completion); leaving them out saves 9 MB a call
RUNTIME_OPTIONAL = ("debugpy", "jedi", "parso")
#: glibc 2.28 at most: the device image is an Ubuntu with Python 3.12.3 (glibc 2.39), but the margin is free
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in (28, 27, 26, 24, 17, 12, 5)] + [
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
]
#: files of the local cache that the deid chapter reads on the device (relative to $PPSTUDY_DATA)
DEID_CACHE_FILES = (
    "imagetracer/node_modules/imagetracerjs/imagetracer_v1.2.6.js",
    "imagetracer/node_modules/imagetracerjs/package.json",
)


# ------------------------------------------------------------------------------------------ toy data
def write_toy_cifar(dest: Path, n_per_batch: int = 48, seed: int = 0) -> dict[str, str]:
    """Write the seven files of ``cifar-10-batches-py`` in the official pickle layout with ``n_per_batch``
    random images each; returns their md5 list (the toy's stand-in for the official one)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    dest.mkdir(parents=True, exist_ok=True)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    for i, name in enumerate(f for f in ppdev.OFFICIAL_MD5 if f != "batches.meta"):
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n_per_batch)]
        d = {
            b"batch_label": f"toy batch {i + 1} of 6".encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [f"toy_{i}_{j}.png".encode() for j in range(n_per_batch)],
        }
        (dest / name).write_bytes(pickle.dumps(d, protocol=2))
    meta = {b"num_cases_per_batch": n_per_batch, b"label_names": [n.encode() for n in names], b"num_vis": 3072}
    (dest / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return {f: ppdev.md5_file(dest / f) for f in ppdev.OFFICIAL_MD5}


# ------------------------------------------------------------------------------------------ data
def build_data(src: Path, out: Path, md5: dict[str, str], official: bool, jobs: int) -> dict:
    missing = [f for f in ppdev.OFFICIAL_MD5 if not (src / f).is_file()]
    if missing:
        raise ppdev.DeviceRunError(
            f"{src} lacks {', '.join(missing)}: give --cifar-dir the unpacked "
            f"cifar-10-batches-py folder (all seven files)"
        )
    tasks = []
    for call, files in ppdev.CALL_FILES.items():
        folder = out / f"c{call}"
        folder.mkdir(parents=True, exist_ok=True)
        old = _manifest(folder).get("data", {})
        for f in files:
            dest = folder / f"{f}.xz"
            rec = old.get(f)
            if rec and dest.is_file() and rec.get("md5") == md5[f] and dest.stat().st_size == rec["xz_bytes"]:
                continue
            tasks.append((call, f, dest))

    def check_and_pack(task):
        call, f, dest = task
        got = ppdev.md5_file(src / f)
        if got != md5[f]:
            raise ppdev.DeviceRunError(
                f"{src / f}: md5 {got}, expected {md5[f]}: not the {'official' if official else 'toy'} file"
            )
        return call, f, ppdev.xz_compress_file(src / f, dest)

    done = {}
    with ThreadPoolExecutor(max(1, jobs)) as ex:  # lzma releases the GIL
        for call, f, rec in ex.map(check_and_pack, tasks):
            done.setdefault(call, {})[f] = rec
            print(f"  {f}: {rec['bytes'] / 1e6:.2f} MB -> {rec['xz_bytes'] / 1e6:.2f} MB (c{call})", flush=True)
    for call, files in ppdev.CALL_FILES.items():
        folder = out / f"c{call}"
        man = _manifest(folder)
        data = {f: rec for f, rec in man.get("data", {}).items() if f in files}
        data.update(done.get(call, {}))
        man.update(data=data, official=official)
        ppdev.write_json(folder / ppdev.MANIFEST, man)
    return {f"c{c}": _manifest(out / f"c{c}")["data"] for c in ppdev.CALL_FILES}


def _manifest(folder: Path) -> dict:
    p = folder / ppdev.MANIFEST
    return ppdev.read_json(p) if p.is_file() else {}


# ------------------------------------------------------------------------------------------ wheels
def _pins(names) -> list[str]:
    """``name==version`` for every name installed in this Python (what the tests here ran with)."""
    from importlib import metadata

    out = []
    for n in names:
        try:
            out.append(f"{n}=={metadata.version(n)}")
        except metadata.PackageNotFoundError:
            out.append(n)
    return out


def download_wheels(reqs: list[str], cache: Path) -> list[Path]:
    """``pip download`` of ``reqs`` and their requirements for the device's Python into ``cache``; returns
    the wheel files of this resolution (the cache may hold others from earlier builds)."""
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--python-version",
        "3.12",
        "--implementation",
        "cp",
        "--abi",
        "cp312",
        "--abi",
        "abi3",
        "--abi",
        "none",
        "-d",
        str(cache),
    ]
    for p in PLATFORMS:
        cmd += ["--platform", p]
    proc = subprocess.run(cmd + reqs, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ppdev.DeviceRunError("pip download failed:\n" + proc.stderr[-3000:])
    names = re.findall(r"(?:Saved|File was already downloaded) (\S+\.whl)", proc.stdout)
    files = sorted({cache / Path(n).name for n in names})
    if not files:
        raise ppdev.DeviceRunError("pip download named no wheel:\n" + proc.stdout[-3000:])
    return files


def _wheel_metadata(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n))
        return z.read(name).decode()


def _requirements(meta: str) -> list:
    from packaging.requirements import Requirement

    env = {
        "python_version": "3.12",
        "python_full_version": "3.12.3",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }
    out = []
    for line in meta.splitlines():
        if line.startswith("Requires-Dist:"):
            r = Requirement(line.split(":", 1)[1].strip())
            if r.marker is None or r.marker.evaluate(env):
                out.append(r)
    return out


def select_wheels(wheels, roots: list[str], present: set[str]) -> tuple[list[Path], list[dict]]:
    """The wheels (a folder or a list of files) needed to import ``roots`` on the device: the requirement
    closure of the roots, not descending into distributions the device already has. Returns the wheels
    and a list of requirements deliberately not carried (present on the device, or run-time optional)."""
    cache = Path(wheels) if isinstance(wheels, (str, Path)) else None
    files = sorted(cache.glob("*.whl")) if cache else list(wheels)
    by_name: dict[str, Path] = {}
    for w in files:
        n = ppdev.wheel_dist_name(w.name)
        if n in by_name and by_name[n].name != w.name:
            versions = sorted(p.name for p in (by_name[n], w))
            raise ppdev.DeviceRunError(f"two wheels of {n}: {versions}")
        by_name[n] = w
    chosen: dict[str, Path] = {}
    skipped: list[dict] = []
    todo = [ppdev.normalize(r.split("==")[0]) for r in roots]
    while todo:
        n = todo.pop()
        if n in chosen:
            continue
        if n not in by_name:
            raise ppdev.DeviceRunError(f"no wheel of {n} among the downloaded wheels (pip download did not fetch it)")
        chosen[n] = by_name[n]
        for r in _requirements(_wheel_metadata(by_name[n])):
            rn = ppdev.normalize(r.name)
            if rn in present or rn in RUNTIME_OPTIONAL:
                skipped.append(
                    {
                        "by": n,
                        "requirement": str(r),
                        "why": "present on the device" if rn in present else "not needed at run time",
                    }
                )
            elif rn not in chosen:
                todo.append(rn)
    return sorted(chosen.values()), skipped


def build_wheels(out: Path, chapters: list[str], present: set[str], cache: Path) -> dict:
    base_roots = _pins(BASE_PACKAGES)
    deid_roots = _pins(DEID_PACKAGES) if "deid" in chapters else []
    files = download_wheels(base_roots + deid_roots, cache)
    base, skipped = select_wheels(files, base_roots, present)
    report = {"base": [w.name for w in base], "skipped_requirements": skipped, "roots": base_roots + deid_roots}
    packs = {"c1": base}
    if deid_roots:
        deid_all, skipped2 = select_wheels(files, deid_roots, present)
        report["skipped_requirements"] += skipped2
        deid = sorted((w for w in deid_all if w.name not in {b.name for b in base}), key=lambda p: -p.stat().st_size)
        # the largest wheel (mini-racer's V8) travels alone with call 2; the others with call 1
        packs["d2"], packs["d1"] = deid[:1], deid[1:]
        report["deid"] = [w.name for w in deid]
    for folder, wheels in packs.items():
        d = out / folder
        d.mkdir(parents=True, exist_ok=True)
        man = _manifest(d)
        want = sorted(w.name for w in wheels)
        pack = d / f"{folder}.wheels.tar.xz"
        if not (
            man.get("wheels", {}).get("wheels") == want
            and pack.is_file()
            and pack.stat().st_size == man["wheels"]["xz_bytes"]
        ):
            man["wheels"] = ppdev.pack_wheels(wheels, pack)
            print(
                f"  {folder}: {len(wheels)} wheels, {man['wheels']['wheel_bytes'] / 1e6:.1f} MB -> "
                f"{man['wheels']['xz_bytes'] / 1e6:.1f} MB",
                flush=True,
            )
        ppdev.write_json(d / ppdev.MANIFEST, man)
    return report


def toy_wheels(out: Path, wheel_dir: Path | None) -> dict:
    """Toy mode: pack the wheels of a local folder (if given) into c1; nothing is downloaded."""
    wheels = sorted(wheel_dir.glob("*.whl")) if wheel_dir else []
    d = out / "c1"
    d.mkdir(parents=True, exist_ok=True)
    man = _manifest(d)
    if wheels:
        man["wheels"] = ppdev.pack_wheels(wheels, d / "c1.wheels.tar.xz")
    else:
        man.pop("wheels", None)
        (d / "c1.wheels.tar.xz").unlink(missing_ok=True)
    ppdev.write_json(d / ppdev.MANIFEST, man)
    return {"base": [w.name for w in wheels], "toy": True}


# ------------------------------------------------------------------------------------------ extras
def build_extras(out: Path, root: Path, chapters: list[str], cache_root: Path | None, toy: bool) -> dict:
    """The commit stamp (c3) and the data-cache files the deid chapter reads on the device (d1)."""
    c3 = out / "c3"
    c3.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    )
    (c3 / "commit.txt").write_text(f"{commit or 'unknown'}\n{'dirty' if dirty else 'clean'}\n")
    report = {"commit": commit or None, "dirty": dirty, "cache_files": []}
    if "deid" in chapters:
        d1 = out / "d1"
        for rel in DEID_CACHE_FILES:
            src = (cache_root / rel) if cache_root else None
            if src is None or not src.is_file():
                if toy:
                    continue
                raise ppdev.DeviceRunError(
                    f"deid: {rel} is not in the local cache {cache_root}: install "
                    f"imagetracerjs there first (scripts/setup.sh) or build --chapters pixel"
                )
            dest = d1 / "cache" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(src.read_bytes())
            report["cache_files"].append(rel)
    return report


# ------------------------------------------------------------------------------------------ sizes
def working_tree_bytes(root: Path, exclude: Path | None = None) -> tuple[int, int]:
    """Bytes and file count of what every call sends besides the carried folders: tracked and untracked,
    not ignored files, and a ``shared/`` folder inside the checkout (``exclude``: the carry folder itself,
    counted per call instead)."""
    proc = subprocess.run(
        ["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=root, capture_output=True, check=True
    )
    files = [root / f for f in proc.stdout.decode().split("\0") if f]
    if exclude is not None:
        files = [f for f in files if not f.resolve().is_relative_to(exclude.resolve())]
    total = sum(f.stat().st_size for f in files if f.is_file() and not f.is_symlink())
    shared = root / "shared"
    if shared.is_dir() and not shared.is_symlink():
        total += ppdev.tree_bytes(shared)
    return total, len(files)


def size_report(root: Path, out: Path, chapters: list[str], check_ignored: bool) -> dict:
    tree, nfiles = working_tree_bytes(root, exclude=out)
    folders = {
        p.name: ppdev.tree_bytes(p) for p in sorted(out.iterdir()) if p.is_dir() and re.fullmatch(r"[cd]\d", p.name)
    }
    rep = {
        "working_tree_bytes": tree,
        "working_tree_files": nfiles,
        "folders_bytes": folders,
        "calls": {},
        "limit_bytes": ppdev.CALL_LIMIT_BYTES,
    }
    ok = True
    for ch in chapters:
        for call, names in ppdev.CALL_FOLDERS[ch].items():
            total = tree + sum(folders.get(n, 0) for n in names)
            rep["calls"][f"{ch} call {call}"] = {"folders": list(names), "bytes": total}
            ok &= total <= ppdev.CALL_LIMIT_BYTES
    if check_ignored:
        rel = out.resolve().relative_to(root.resolve()) if out.resolve().is_relative_to(root.resolve()) else None
        if rel is not None:
            proc = subprocess.run(["git", "check-ignore", "-q", str(rel / "c1" / ppdev.MANIFEST)], cwd=root)
            if proc.returncode != 0:
                raise ppdev.DeviceRunError(
                    f"{rel}/ is not ignored by git, so it would travel in every call: add "
                    f"'/{rel}/' to .gitignore (or pass --allow-unignored for a local test)"
                )
    rep["fits"] = bool(ok)
    return rep


def print_sizes(rep: dict) -> None:
    print(
        f"working tree (tracked + untracked, not ignored): {rep['working_tree_bytes'] / ppdev.MIB:.2f} MiB "
        f"in {rep['working_tree_files']} files"
    )
    for name, b in rep["folders_bytes"].items():
        print(f"  carry folder {name}: {b / ppdev.MIB:.2f} MiB")
    for call, r in rep["calls"].items():
        flag = "" if r["bytes"] <= rep["limit_bytes"] else "  OVER THE 64 MiB LIMIT"
        print(f"  {call}: tree + {' + '.join(r['folders'])} = {r['bytes'] / ppdev.MIB:.2f} MiB{flag}")


# ------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chapters", default="pixel,deid", help="comma-separated: pixel, deid (default: both)")
    ap.add_argument("--out", default=None, help=f"output folder (default: <checkout>/{ppdev.CARRY_ROOT})")
    ap.add_argument("--cifar-dir", default=None, help="unpacked cifar-10-batches-py (default: in the data cache)")
    ap.add_argument("--toy", action="store_true", help="toy batch files with their own md5 list; no download")
    ap.add_argument("--toy-images", type=int, default=48, help="images per toy batch file")
    ap.add_argument("--wheels-from", default=None, help="toy mode: pack the wheels of this folder into c1")
    ap.add_argument("--wheel-cache", default=None, help="where pip download keeps wheels (default: <out>/.wheel-cache)")
    ap.add_argument("--jobs", type=int, default=2, help="files compressed at once")
    ap.add_argument("--allow-unignored", action="store_true", help="do not insist that --out is ignored by git")
    a = ap.parse_args(argv)

    root = Path(
        subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    chapters = [c.strip() for c in a.chapters.split(",") if c.strip()]
    for c in chapters:
        if c not in ppdev.CALL_FOLDERS:
            ap.error(f"unknown chapter {c!r} (pixel, deid)")
    out = Path(a.out).resolve() if a.out else root / ppdev.CARRY_ROOT
    out.mkdir(parents=True, exist_ok=True)
    try:
        sys.path.insert(0, str(root / "src"))
        from ppstudy.data.registry import cache_dir

        cache_root = cache_dir()
    except ImportError:  # pragma: no cover - the checkout's src/ is always there
        cache_root = None
    report: dict = {"chapters": chapters, "toy": a.toy}
    print("data:", flush=True)
    if a.toy:
        src = out / "toy-src" / ppdev.CIFAR_SUBDIR.name
        md5 = write_toy_cifar(src, a.toy_images)
        report["data"] = build_data(src, out, md5, official=False, jobs=a.jobs)
    else:
        src = Path(a.cifar_dir) if a.cifar_dir else (cache_root / ppdev.CIFAR_SUBDIR if cache_root else None)
        if src is None or not src.is_dir():
            raise SystemExit(
                f"build_carry: no CIFAR-10 folder at {src}: pass --cifar-dir DIR (the unpacked "
                f"cifar-10-batches-py) or link it into the data cache"
            )
        report["data"] = build_data(src, out, ppdev.OFFICIAL_MD5, official=True, jobs=a.jobs)
    print("wheels:", flush=True)
    present = ppdev.read_name_list(HERE / "device_packages.txt")
    if a.toy:
        report["wheels"] = toy_wheels(out, Path(a.wheels_from) if a.wheels_from else None)
    else:
        cache = Path(a.wheel_cache) if a.wheel_cache else out / ".wheel-cache"
        report["wheels"] = build_wheels(out, chapters, present, cache)
    report["extras"] = build_extras(out, root, chapters, cache_root, a.toy)
    for ch in chapters:  # every folder a call names has a manifest, even one with nothing to stage
        for names in ppdev.CALL_FOLDERS[ch].values():
            for name in names:
                if not (out / name / ppdev.MANIFEST).is_file():
                    ppdev.write_json(out / name / ppdev.MANIFEST, {})
    report["sizes"] = size_report(root, out, chapters, check_ignored=not (a.toy or a.allow_unignored))
    ppdev.write_json(out / "SIZES.json", report)
    print_sizes(report["sizes"])
    if not report["sizes"]["fits"]:
        print("build_carry: a call exceeds 64 MiB; see above", file=sys.stderr)
        return 1
    print(f"build_carry: ready in {out} (report: {out / 'SIZES.json'})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ppdev.DeviceRunError as e:
        print(f"build_carry: {e}", file=sys.stderr)
        sys.exit(2)
