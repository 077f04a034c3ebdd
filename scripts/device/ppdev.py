"""Shared pieces of the prepared device run (standard library only: it runs on the device before any
carried wheel is installed, and here with the project's own Python).

What travels, per call of the device tool (each call's ``carry`` names only that call's folders; the
folders of earlier calls stay on the warm machine):

=====  ================================  =============================================  =================
call   folder                            content                                        needed by
=====  ================================  =============================================  =================
1      ``.devcarry/c1``                  data_batch_1, data_batch_2 (xz); base wheels   pixel and deid
1      ``.devcarry/d1``                  the deid-only wheels but the largest;          deid
                                         imagetracerjs from the data cache
2      ``.devcarry/c2``                  data_batch_3, data_batch_4 (xz)                pixel and deid
2      ``.devcarry/d2``                  the largest deid-only wheel (mini-racer)       deid
3      ``.devcarry/c3``                  data_batch_5, test_batch, batches.meta (xz);   pixel and deid
                                         commit stamp
=====  ================================  =============================================  =================

Every CIFAR-10 file is compressed with xz (a delta filter of 32 bytes, one image row of one colour plane,
in front of LZMA2 preset 6: 31.0 MB -> 21.3 MB a batch file). The device decompresses each file and checks
its md5 against the folder's ``MANIFEST.json`` and, for real data, against the official list below.
Wheels travel as one ``*.wheels.tar.xz`` per folder: the members of every wheel, re-compressed together
(mini-racer's 22 MB wheel shrinks to 14 MB); the device rebuilds each wheel file member by member and
installs it with pip.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import sys
import tarfile
import time
import zipfile
from pathlib import Path

_SRC = Path(__file__).resolve().parents[2] / "src"  # the package of this checkout, on the device too
if str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))
from ppstudy.data.cifar10 import BATCH_MD5 as OFFICIAL_MD5  # noqa: E402, F401  (re-exported: the official md5 list, once)

#: which CIFAR-10 files travel in which call (at most two batch files a call)
CALL_FILES = {
    1: ("data_batch_1", "data_batch_2"),
    2: ("data_batch_3", "data_batch_4"),
    3: ("data_batch_5", "test_batch", "batches.meta"),
}
#: the carry folders of each call, per chapter
CALL_FOLDERS = {
    "pixel": {1: ("c1",), 2: ("c2",), 3: ("c3",)},
    "deid": {1: ("c1", "d1"), 2: ("c2", "d2"), 3: ("c3",)},
}
CARRY_ROOT = ".devcarry"
MANIFEST = "MANIFEST.json"
CIFAR_SUBDIR = Path("cifar10") / "cifar-10-batches-py"
XZ_FILTERS = [{"id": lzma.FILTER_DELTA, "dist": 32}, {"id": lzma.FILTER_LZMA2, "preset": 6}]
MIB = 1 << 20
#: what one call of the device tool may carry: working tree + carried folders
CALL_LIMIT_BYTES = 64 * MIB


class DeviceRunError(RuntimeError):
    """A step of the prepared device run failed; the message says which and what to do."""


# ------------------------------------------------------------------------------------------ files
def md5_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def xz_compress_file(src: Path, dest: Path) -> dict:
    """Compress ``src`` into ``dest`` (written through a temporary name); returns sizes and checksums."""
    data = Path(src).read_bytes()
    packed = lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, filters=XZ_FILTERS)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(packed)
    os.replace(tmp, dest)
    return {
        "file": dest.name,
        "name": Path(src).name,
        "md5": hashlib.md5(data).hexdigest(),
        "bytes": len(data),
        "xz_bytes": len(packed),
        "xz_sha256": sha256_bytes(packed),
    }


def xz_decompress_verified(src: Path, dest: Path, md5: str, *, official: str | None = None) -> float:
    """Decompress ``src`` to ``dest`` and check its md5 (and the official one when given) before it
    becomes visible under its final name; returns the seconds it took. A mismatch raises
    :class:`DeviceRunError` and leaves no file at ``dest``."""
    t0 = time.perf_counter()
    try:
        data = lzma.decompress(Path(src).read_bytes())
    except lzma.LZMAError as e:
        raise DeviceRunError(f"{src}: not a readable xz file ({e}); rebuild the carry folders here") from None
    got = hashlib.md5(data).hexdigest()
    for want, what in ((md5, "the carry manifest"), (official, "the official CIFAR-10 list")):
        if want is not None and got != want:
            raise DeviceRunError(f"{src}: decompressed md5 {got} differs from {what} ({want})")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, dest)
    return time.perf_counter() - t0


def write_json(path: Path, data) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def tree_bytes(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ------------------------------------------------------------------------------------------ wheels
def pack_wheels(wheels: list[Path], dest: Path) -> dict:
    """Put the members of every wheel into one xz-compressed tar (``<wheel file name>/<member>``), so that
    xz compresses the wheels' contents rather than their already deflated zip streams."""
    buf = io.BytesIO()
    names = []
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for whl in sorted(wheels, key=lambda p: p.name):
            names.append(whl.name)
            with zipfile.ZipFile(whl) as z:
                for info in z.infolist():
                    if info.is_dir():
                        continue
                    data = z.read(info)
                    ti = tarfile.TarInfo(f"{whl.name}/{info.filename}")
                    ti.size = len(data)
                    ti.mtime = int(time.mktime(info.date_time + (0, 0, -1)))
                    ti.mode = 0o644
                    tar.addfile(ti, io.BytesIO(data))
    packed = lzma.compress(buf.getvalue(), format=lzma.FORMAT_XZ, preset=9)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(packed)
    os.replace(tmp, dest)
    return {
        "file": dest.name,
        "wheels": names,
        "xz_bytes": len(packed),
        "xz_sha256": sha256_bytes(packed),
        "wheel_bytes": sum(w.stat().st_size for w in wheels),
    }


def unpack_wheels(src: Path, outdir: Path) -> list[Path]:
    """Rebuild the wheel files packed by :func:`pack_wheels` in ``outdir`` (members in their original
    order and content; stored without compression, which pip accepts)."""
    outdir.mkdir(parents=True, exist_ok=True)
    try:
        raw = lzma.decompress(Path(src).read_bytes())
    except lzma.LZMAError as e:
        raise DeviceRunError(f"{src}: not a readable xz file ({e}); rebuild the carry folders here") from None
    members: dict[str, list[tuple[str, bytes, float]]] = {}
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r") as tar:
        for ti in tar:
            if not ti.isfile():
                continue
            whl, _, inner = ti.name.partition("/")
            if not whl.endswith(".whl") or not inner or ".." in Path(inner).parts or inner.startswith("/"):
                raise DeviceRunError(f"{src}: unexpected member {ti.name!r}")
            members.setdefault(whl, []).append((inner, tar.extractfile(ti).read(), ti.mtime))
    out = []
    for whl, items in members.items():
        path = outdir / whl
        tmp = path.with_name(path.name + ".part")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
            for inner, data, mtime in items:
                info = zipfile.ZipInfo(inner, date_time=time.localtime(max(mtime, 315532800))[:6])
                info.external_attr = 0o644 << 16
                z.writestr(info, data)
        os.replace(tmp, path)
        out.append(path)
    return sorted(out)


def wheel_dist_name(filename: str) -> str:
    """Normalised distribution name of a wheel file name (``Foo_Bar-1.0-py3-none-any.whl`` -> ``foo-bar``)."""
    return normalize(filename.split("-")[0])


def normalize(name: str) -> str:
    out = []
    prev_sep = False
    for ch in name.strip().lower():
        if ch in "-_.":
            if not prev_sep:
                out.append("-")
            prev_sep = True
        else:
            out.append(ch)
            prev_sep = False
    return "".join(out)


def read_name_list(path: Path) -> set[str]:
    """Normalised names of a text file with one name a line (``#`` comments and blank lines skipped)."""
    names = set()
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(normalize(line))
    return names
