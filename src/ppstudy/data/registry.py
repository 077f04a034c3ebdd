"""Dataset registry: URL + sha256 + cache directory, with retries and a clear error when offline.

Every real dataset is registered once as a :class:`DatasetSpec`. :func:`fetch` returns the local path
of the verified file, downloading it into the cache on first use. The cache is ``$PPSTUDY_DATA`` when
set, else ``~/.cache/ppstudy`` (``$XDG_CACHE_HOME/ppstudy`` where that is set) — never a path relative to
the working directory. A file a user downloaded by hand is used as soon as it is put in the cache under
the registered file name (the error message says exactly where).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ppstudy import DataUnavailableError, InputError
from ppstudy.project.paths import cache_dir  # the data cache: one home for every path


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    url: str
    sha256: str | None
    filename: str
    size: int | None = None  # bytes, informative
    description: str = ""


_REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add (or replace) a dataset in the registry; returns the spec for use as a module constant."""
    _REGISTRY[spec.name] = spec
    return spec


def get(name: str) -> DatasetSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise InputError(f"unknown dataset {name!r} (registered: {known})") from None


def registered() -> dict[str, DatasetSpec]:
    return dict(_REGISTRY)


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (inside the cache) or raise one clear error saying why it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataUnavailableError(
            f"cannot create {path} in the data cache: {e.strerror} (set PPSTUDY_DATA to a writable directory)"
        ) from None
    if not os.access(path, os.W_OK):
        raise DataUnavailableError(f"the data cache {path} is not writable (set PPSTUDY_DATA to a writable directory)")
    return path


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _verify(spec: DatasetSpec, path: Path) -> None:
    if spec.sha256 is None:
        return
    got = sha256_file(path)
    if got != spec.sha256:
        raise DataUnavailableError(
            f"{spec.name}: checksum mismatch for {path} (sha256 {got}, expected {spec.sha256}); "
            f"the file is corrupt or incomplete: delete it and fetch again"
        )


def _download(url: str, dest: Path, timeout: float) -> None:
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
            shutil.copyfileobj(r, f, length=1 << 20)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def fetch(
    dataset: str | DatasetSpec, *, retries: int = 3, timeout: float = 60.0, backoff: float = 2.0, download: bool = True
) -> Path:
    """Return the verified local path of a registered dataset file, downloading it if needed.

    Raises :class:`ppstudy.DataUnavailableError` with the URL and the cache path to fill by hand when the
    file is absent and cannot be downloaded (offline), or when its checksum does not match.
    """
    spec = dataset if isinstance(dataset, DatasetSpec) else get(dataset)
    dest = cache_dir() / spec.name / spec.filename
    if dest.exists():
        _verify(spec, dest)
        return dest
    where = (
        f"download {spec.url} yourself and put it at {dest} "
        f"(or set PPSTUDY_DATA to a directory holding {spec.name}/{spec.filename})"
    )
    if not download:
        raise DataUnavailableError(f"{spec.name} is not in the cache: {where}")
    ensure_dir(dest.parent)
    last: Exception | None = None
    for attempt in range(max(1, retries)):
        try:
            _download(spec.url, dest, timeout)
            break
        except (urllib.error.URLError, OSError, TimeoutError) as e:  # offline, DNS, reset, HTTP error
            last = e
            if attempt + 1 < retries:
                time.sleep(backoff * (2**attempt))
    else:
        reason = getattr(last, "reason", last)
        raise DataUnavailableError(f"{spec.name}: could not download ({reason}); {where}")
    try:
        _verify(spec, dest)
    except DataUnavailableError:
        dest.unlink(missing_ok=True)
        raise
    return dest
