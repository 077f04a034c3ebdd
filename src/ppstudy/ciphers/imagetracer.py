"""imagetracerjs 1.2.6, the tracer of Ko et al. (IEEE Access 2020), driven from Python in batches.

The paper vectorizes with imagetracerjs and its ``'default'`` options. Read from the library's source
(``optionpresets['default']`` and the functions they select), those options do this:

* **colour quantisation** (``colorsampling: 2``, ``numberofcolors: 16``, ``colorquantcycles: 3``,
  ``mincolorratio: 0``, ``blurradius: 0``): a palette of 16 colours is *sampled from the image itself* on a
  deterministic rectangular grid (``samplepalette2``: a 4 x 4 grid of pixels at ``(i + 1) * width / 5``,
  ``(j + 1) * height / 5``), then refined by k-means with the rectilinear RGBA distance: three assignment
  passes, the palette replaced by the floor of each cluster's mean before the second and the third (a colour
  that no pixel chose keeps its sampled value). Nothing is random under these options
  (``Math.random`` is reached only with ``colorsampling: 1``, ``0`` or ``mincolorratio > 0``).
* **layers and paths** (``layering: 0``, ``pathomit: 8``): one layer per palette colour; the edges of each
  layer are scanned into closed paths, and paths with fewer than 8 edge points are dropped (small specks
  vanish; the paper's "object and feature vanishing").
* **curve fitting** (``ltres: 1``, ``qtres: 1``, ``rightangleenhance: true``): the edge-node sequences are
  fitted by straight lines (``L``) or quadratic splines (``Q``) whose error stays under 1 pixel; corners at
  right angles are kept.
* **SVG writing** (``strokewidth: 1``, ``scale: 1``, ``roundcoords: 1``, ``viewbox: false``,
  ``linefilter: false``, ``desc: false``, ``lcpr: 0``, ``qcpr: 0``): ``<svg width height>`` holding one
  ``<path fill="rgb(r,g,b)" stroke="rgb(r,g,b)" stroke-width="1" opacity="1" d="M x y L x y Q x y x y ... Z">``
  per path, layers in palette order, each shape stroked in its own colour with a 1-pixel line; outer
  coordinates rounded to one decimal, hole coordinates (``M`` ... ``Z`` after the first ``Z``) to integers;
  every command absolute.

The 1-pixel stroke matters: adjacent shapes of different layers do not quite meet, and the stroke covers the
seams between them at the traced size (see :func:`ppstudy.ciphers.deid.seam_mask`).

vtracer, the alternative tracer of :mod:`ppstudy.ciphers.deid`, differs: hierarchical colour clustering
(no fixed number of colours), shapes stacked on top of each other (no seams to cover, no strokes), cubic
Bezier splines, a ``translate`` per path and ``filter_speckle`` instead of ``pathomit``.

Engines: **Node** runs :file:`imagetracer_driver.js` as one long-lived process per Python process, fed raw
RGBA over a pipe (a batch costs one round of writes and reads, never a process per image); **mini-racer**
(V8 in a PyPI wheel) evaluates the same library and driver in-process where Node is absent. Both are V8
and give identical SVG (a test checks it). The library is installed by ``scripts/install_imagetracer.sh``
into ``<ppstudy cache>/imagetracer``; its SHA-256 is checked before it is run.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ppstudy import InputError, PPStudyError, validate

VERSION = "1.2.6"
#: SHA-256 of ``imagetracer_v1.2.6.js`` as the npm registry serves it
LIBRARY_SHA256 = "1f7e21062196c53f2565120fc0708eac197c8403ec1bea28b381056ea0c3fdb9"
#: imagetracerjs 1.2.6's ``optionpresets['default']`` (what ``'default'`` selects; copied for reference)
DEFAULT_OPTIONS: dict[str, Any] = {
    "corsenabled": False,
    "ltres": 1,
    "qtres": 1,
    "pathomit": 8,
    "rightangleenhance": True,
    "colorsampling": 2,
    "numberofcolors": 16,
    "mincolorratio": 0,
    "colorquantcycles": 3,
    "layering": 0,
    "strokewidth": 1,
    "linefilter": False,
    "scale": 1,
    "roundcoords": 1,
    "viewbox": False,
    "desc": False,
    "lcpr": 0,
    "qcpr": 0,
    "blurradius": 0,
    "blurdelta": 20,
}
PRESETS = (
    "default",
    "posterized1",
    "posterized2",
    "posterized3",
    "curvy",
    "sharp",
    "detailed",
    "smoothed",
    "grayscale",
    "fixedpalette",
    "randomsampling1",
    "randomsampling2",
    "artistic1",
    "artistic2",
    "artistic3",
    "artistic4",
)
#: accepted values of the numeric options in a dict of overrides: (low, high, integer?). imagetracerjs itself
#: checks nothing: ``numberofcolors: 10**9`` drives Node past 3 GB, ``blurradius`` above 5 is clamped
OPTION_RANGES: dict[str, tuple[float, float, bool]] = {
    "ltres": (0, 1000, False),
    "qtres": (0, 1000, False),
    "pathomit": (0, 1_000_000, True),
    "colorsampling": (0, 2, True),
    "numberofcolors": (1, 256, True),
    "mincolorratio": (0, 1, False),
    "colorquantcycles": (1, 50, True),
    "layering": (0, 1, True),
    "strokewidth": (0, 100, False),
    "scale": (0.001, 100, False),
    "roundcoords": (-1, 10, True),
    "lcpr": (0, 1000, False),
    "qcpr": (0, 1000, False),
    "blurradius": (0, 5, True),
    "blurdelta": (0, 1024, False),
}
#: the largest image side :func:`trace` accepts (pixels)
MAX_TRACE_SIDE = 4096
ENGINES = ("node", "mini_racer")
INSTALL_COMMAND = "bash scripts/install_imagetracer.sh"
#: environment variable that picks the engine when ``engine="auto"`` ("node" or "mini_racer")
ENGINE_ENV = "PPSTUDY_IMAGETRACER_ENGINE"


class TracerUnavailableError(PPStudyError, RuntimeError):
    """imagetracerjs or every JavaScript engine for it is missing (not bad input: install them)."""


# ---------------------------------------------------------------------- installation
#: environment variable naming another install directory (default ``<ppstudy cache>/imagetracer``)
DIR_ENV = "PPSTUDY_IMAGETRACER_DIR"


def install_dir() -> Path:
    """``<ppstudy cache>/imagetracer`` (or ``$PPSTUDY_IMAGETRACER_DIR``), where
    ``scripts/install_imagetracer.sh`` installs the npm package."""
    env = os.environ.get(DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    from ppstudy.project.paths import cache_dir

    return cache_dir() / "imagetracer"


def driver_path() -> Path:
    """The JavaScript driver shipped with ppstudy (package data)."""
    return Path(__file__).with_name("imagetracer_driver.js")


_CHECKED: dict[str, str] = {}


def library_path() -> Path:
    """The installed, checksum-verified ``imagetracer_v1.2.6.js``; a clear error names the install command."""
    path = install_dir() / "node_modules" / "imagetracerjs" / f"imagetracer_v{VERSION}.js"
    key = str(path)
    try:
        st = path.stat()
    except OSError:
        raise TracerUnavailableError(
            f"imagetracerjs {VERSION} is not installed ({path} is missing): run "
            f"`{INSTALL_COMMAND}` (npm registry, once; PPSTUDY_DATA picks the cache)"
        ) from None
    stamp = f"{st.st_size}:{st.st_mtime_ns}"
    if _CHECKED.get(key) != stamp:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != LIBRARY_SHA256:
            raise TracerUnavailableError(
                f"{path} fails its SHA-256 check (got {digest[:16]}...): run "
                f"`{INSTALL_COMMAND}` to reinstall imagetracerjs {VERSION}"
            )
        _CHECKED[key] = stamp
    return path


def node_executable() -> str | None:
    return shutil.which("node")


def available_engines() -> list[str]:
    """The JavaScript engines present here, in the order ``engine="auto"`` tries them."""
    out = []
    if node_executable():
        out.append("node")
    try:
        import py_mini_racer  # noqa: F401
    except ImportError:
        pass
    else:
        out.append("mini_racer")
    return out


def check_options(options) -> str:
    """``options`` as the JSON imagetracerjs receives: a preset name or a dict of overrides of 'default'."""
    if isinstance(options, str):
        if options.lower() not in PRESETS:
            raise InputError(f"imagetracerjs options: unknown preset {options!r} (presets: {', '.join(PRESETS)})")
        return json.dumps(options.lower())
    if not isinstance(options, dict):
        raise InputError(f"imagetracerjs options: expected a preset name or a dict, got {type(options).__name__}")
    for k, v in options.items():
        if not isinstance(k, str) or k not in DEFAULT_OPTIONS:
            raise InputError(f"imagetracerjs options: unknown option {k!r}")
        if not isinstance(v, (bool, int, float)) or (isinstance(v, float) and not np.isfinite(v)):
            raise InputError(f"imagetracerjs options: {k} must be a finite number or a boolean, got {v!r}")
        if isinstance(DEFAULT_OPTIONS[k], bool) != isinstance(v, bool):
            raise InputError(
                f"imagetracerjs options: {k} must be "
                f"{'a boolean' if isinstance(DEFAULT_OPTIONS[k], bool) else 'a number'}, got {v!r}"
            )
        if k in OPTION_RANGES:
            low, high, whole = OPTION_RANGES[k]
            name = f"imagetracerjs options: {k} (OPTION_RANGES)"
            if whole:
                validate.integer(name, v, low=int(low), high=int(high))
            else:
                validate.number(name, v, low=low, high=high)
    if options.get("lcpr") or options.get("qcpr") or options.get("desc"):
        raise InputError(
            "imagetracerjs options: lcpr, qcpr and desc add elements or attributes that position OPE does not handle"
        )
    return json.dumps(dict(options))


def _rgba(img: np.ndarray) -> tuple[int, int, bytes]:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
        raise InputError(f"imagetracer: expected uint8 numpy images, got {getattr(img, 'dtype', type(img).__name__)}")
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    if img.ndim != 3 or img.shape[-1] not in (3, 4) or min(img.shape[:2]) < 1:
        raise InputError(f"imagetracer: expected HxW, HxWx3 or HxWx4 images, got shape {img.shape}")
    validate.at_most(
        f"imagetracer: image side ({img.shape[0]}x{img.shape[1]})", max(img.shape[:2]), MAX_TRACE_SIDE, "MAX_TRACE_SIDE"
    )
    h, w = img.shape[:2]
    if img.shape[-1] == 3:
        img = np.concatenate([img, np.full((h, w, 1), 255, np.uint8)], axis=-1)
    return w, h, np.ascontiguousarray(img).tobytes()


# ---------------------------------------------------------------------- engines
class _Node:
    """One ``node imagetracer_driver.js`` process; requests are pipelined through its stdin/stdout."""

    name = "node"

    def __init__(self, lib: Path):
        node = node_executable()
        if node is None:
            raise TracerUnavailableError("Node is not installed (Debian: apt-get install nodejs)")
        self._err = tempfile.TemporaryFile()  # noqa: SIM115  (closed in close())
        self.proc = subprocess.Popen(
            [node, str(driver_path()), str(lib)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            bufsize=0,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in, self._out = self.proc.stdin, self.proc.stdout
        self.lock = threading.Lock()

    def _stderr(self) -> str:
        self._err.seek(0)
        return self._err.read().decode("utf8", "replace").strip()[-800:]

    def trace(self, items: list[tuple[int, int, bytes]], options_json: str) -> list[str]:
        opts = json.loads(options_json)
        failure: list[BaseException] = []

        def write():
            try:
                for w, h, px in items:
                    head = json.dumps({"w": w, "h": h, "o": opts}).encode()
                    self._in.write(struct.pack("<I", len(head)) + head + px)
                self._in.flush()
            except (BrokenPipeError, OSError) as e:
                failure.append(e)

        with self.lock:
            t = threading.Thread(target=write, daemon=True)
            t.start()
            out: list[str] = []
            errors: list[str] = []
            try:
                for _ in items:
                    head = self._read(5)
                    status, n = head[0], struct.unpack("<I", head[1:])[0]
                    body = self._read(n).decode("utf8")
                    (errors if status else out).append(body)
            finally:
                t.join()
        if errors:
            raise InputError(f"imagetracerjs failed on {len(errors)} image(s): {errors[0].splitlines()[0]}")
        return out

    def _read(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self._out.read(n - len(buf))
            if not chunk:
                self.proc.wait(timeout=5)
                raise RuntimeError(
                    f"the imagetracerjs Node process ended (exit code {self.proc.returncode}): "
                    f"{self._stderr() or 'no message'}"
                )
            buf += chunk
        return buf

    def close(self) -> None:
        try:
            self._in.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        self._err.close()


class _MiniRacer:
    """imagetracerjs and the driver evaluated in mini-racer's in-process V8."""

    name = "mini_racer"

    def __init__(self, lib: Path):
        try:
            from py_mini_racer import MiniRacer
        except ImportError:
            raise TracerUnavailableError("mini-racer is not installed (pip install mini-racer)") from None
        self.ctx = MiniRacer()
        self.ctx.eval("var self = globalThis;")  # the library exports itself as self.ImageTracer
        self.ctx.eval(lib.read_text(encoding="utf8"))
        self.ctx.eval(driver_path().read_text(encoding="utf8"))
        self.fn: Any = self.ctx.eval("ppstudyTrace")
        self.lock = threading.Lock()

    def trace(self, items: list[tuple[int, int, bytes]], options_json: str) -> list[str]:
        with self.lock:
            return [str(self.fn(w, h, px.decode("latin-1"), options_json)) for w, h, px in items]

    def close(self) -> None:
        self.ctx.close()


_ENGINES: dict[tuple[int, str], Any] = {}
_ENGINES_LOCK = threading.Lock()


def _resolve(engine: str) -> str:
    if engine == "auto":
        engine = os.environ.get(ENGINE_ENV, "") or "auto"
    if engine not in ("auto",) + ENGINES:
        raise InputError(f"imagetracer engine must be 'auto', 'node' or 'mini_racer', got {engine!r}")
    if engine != "auto":
        return engine
    have = available_engines()
    if not have:
        raise TracerUnavailableError(
            "no JavaScript engine for imagetracerjs: install Node (apt-get install "
            "nodejs) or mini-racer (pip install mini-racer)"
        )
    return have[0]


def engine_for(engine: str = "auto"):
    """The (cached, per process) engine object; started on first use."""
    name = _resolve(engine)
    lib = library_path()
    key = (os.getpid(), name)
    with _ENGINES_LOCK:
        eng = _ENGINES.get(key)
        if eng is not None and name == "node" and eng.proc.poll() is not None:
            eng = None  # the process ended: start another
        if eng is None:
            eng = (_Node if name == "node" else _MiniRacer)(lib)
            _ENGINES[key] = eng
    return eng


def node_pids() -> list[int]:
    """Process ids of this process's running Node engines (for CPU-time accounting in benchmarks)."""
    with _ENGINES_LOCK:
        return [
            e.proc.pid
            for (pid, name), e in _ENGINES.items()
            if pid == os.getpid() and name == "node" and e.proc.poll() is None
        ]


def close() -> None:
    """Stop this process's engines (they are also stopped at exit)."""
    with _ENGINES_LOCK:
        for key in [k for k in _ENGINES if k[0] == os.getpid()]:
            _ENGINES.pop(key).close()


atexit.register(close)


def trace(images: np.ndarray | Sequence[np.ndarray], *, options="default", engine: str = "auto") -> list[str]:
    """Trace uint8 images (one HxW or HxWxC image, an NxHxWxC batch, or a list of images of differing sizes)
    into SVG strings with imagetracerjs (a 3-D array whose last axis is not 1, 3 or 4 is refused).

    Grayscale images are traced as three equal channels, RGB ones with opaque alpha. ``options``: a preset
    name of imagetracerjs (``"default"``: the paper's) or a dict of overrides of the default options.
    ``engine``: ``"auto"`` (Node where it is installed, else mini-racer; ``$PPSTUDY_IMAGETRACER_ENGINE``
    overrides), ``"node"`` or ``"mini_racer"``.
    """
    oj = check_options(options)
    if isinstance(images, np.ndarray) and (images.ndim == 2 or (images.ndim == 3 and images.shape[-1] in (1, 3, 4))):
        batch: Sequence[np.ndarray] = [images]
    elif isinstance(images, np.ndarray) and images.ndim == 3:
        # not NxHxW: a 4x4x5 array is more likely a bad image than four 4x5 grayscale ones
        raise InputError(
            f"imagetracer: a 3-D array is one HxWxC image with C = 1, 3 or 4, got shape {images.shape}; pass a "
            f"grayscale batch as N x H x W x 1 or as a list of images"
        )
    elif isinstance(images, np.ndarray) and images.ndim == 4:
        batch = list(images)
    elif isinstance(images, (list, tuple)):
        batch = images
    else:
        raise InputError(
            f"imagetracer: expected a uint8 image, a batch or a list of images, got "
            f"{getattr(images, 'shape', type(images).__name__)}"
        )
    items = [_rgba(im) for im in batch]
    if not items:
        return []
    return engine_for(engine).trace(items, oj)
