"""Attacks on structural de-identification (Ko et al.): what order-preserving encryption of SVG
coordinates leaves to an adversary without the key.

Threat models: the released de-identified raster only, and a leaked position-shifted SVG.
"""

from __future__ import annotations

import numpy as np

from ppstudy import InputError, validate

#: the largest canvas size an inversion maps onto (pixels), as deid's Settings.size
MAX_SIZE = 4096

# Structural de-identification (Ko et al. 2020) moves every x and y coordinate of a traced image by the
# same strictly increasing map f = Enc - Enc(0). Two leaks the paper's analysis leaves open:
# * the position-shifted SVG itself (stored or sent before rasterization): OPE keeps the order of all
#   coordinates, so ranking the distinct values recovers the plaintext grid (exactly for integer
#   coordinates that fill 0..size), and even a plain rescale by size / f(size) undoes most of f, because a
#   ciphertext range ten times the plaintext range makes f close to linear;
# * the de-identified raster alone: it is the traced image warped by (f(x), f(y)) and resized, so resizing
#   it back to the traced size is already a best-effort inversion.
# The functions below carry out both and the chapter measures SSIM against the original.


def svg_coordinates(svg: str) -> np.ndarray:
    """All absolute (x, y) coordinates of an SVG's paths (translate folded in), k x 2."""
    from ppstudy.ciphers import deid

    return deid.path_coordinates(svg)


def invert_ope_coordinates(values: np.ndarray, canvas: float, size: int, *, method: str = "rank") -> np.ndarray:
    """Estimate plaintext coordinates on a 0..``size`` canvas from OPE-shifted ``values`` (0..``canvas``).

    ``method="linear"``: ``v * size / canvas`` (treats f as linear). ``method="rank"``: the sorted distinct
    values, together with 0 and ``canvas``, are spread evenly over 0..``size`` (exact when the plaintext
    coordinates are the integers 0..size, as for a polygon trace); values in between are interpolated.
    """
    from ppstudy.metrics import _reals

    v = _reals("OPE-shifted coordinates", values)
    canvas = validate.number("canvas", canvas, low=0, low_open=True)
    size = validate.integer("size", size, low=1, high=MAX_SIZE)
    if method == "linear":
        return v * (size / canvas)
    if method != "rank":
        raise InputError(f"method must be 'rank' or 'linear', got {method!r}")
    u = np.unique(np.concatenate([v.ravel(), [0.0, float(canvas)]]))
    est = np.linspace(0.0, float(size), len(u))
    return np.interp(v, u, est)


def invert_svg(svg: str, size: int, *, method: str = "rank") -> str:
    """Best-effort inversion of a leaked position-shifted SVG to a ``size`` x ``size`` SVG (no key)."""
    from ppstudy.ciphers import deid

    size = validate.integer("size", size, low=1, high=MAX_SIZE)
    t = deid.parse_svg(svg)
    est = invert_ope_coordinates(t.coordinates, max(t.width, t.height), int(size), method=method)
    return deid.rewrite_svg(t, est, str(int(size)), str(int(size)))


def svg_leak_attack(images: np.ndarray, key, settings, *, method: str = "rank") -> dict:
    """Leaked-SVG attack on a batch: de-identify each image up to step 2, invert the SVG without the key,
    rasterize at ``settings.out_size``. Returns the recovered images, the coordinate errors (in pixels of
    the traced canvas) and the position-shifted SVGs' inversions."""
    from ppstudy.ciphers import deid

    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise InputError("images: expected a uint8 batch NxHxW or NxHxWxC")
    r = deid.pipeline(images, key, settings, outputs=("svg", "shifted"))
    inv = [invert_svg(enc, settings.size, method=method) for enc in r["shifted"]]
    errs = [np.abs(svg_coordinates(i) - svg_coordinates(s)).ravel() for i, s in zip(inv, r["svg"], strict=True)]
    gray = images.ndim == 3 or images.shape[-1] == 1
    rec = deid.rasterize_many(inv, settings.out_size, density=settings.density, gray=gray, renderer=settings.renderer)
    e = np.concatenate(errs) if errs else np.zeros(0)
    if images.ndim == 4 and images.shape[-1] == 1:
        rec = rec[..., None]
    return {
        "images": rec,
        "coord_mae": float(e.mean()) if e.size else 0.0,
        "coord_max": float(e.max()) if e.size else 0.0,
        "coord_exact": float((e < 1e-6).mean()) if e.size else 1.0,
    }


def resize_back(deidentified: np.ndarray, size: int, out_size: int | None = None) -> np.ndarray:
    """Raster-only best effort: shrink de-identified images to the traced size (undoing the global
    rescale of step 3), then back up to ``out_size`` (default: their own size) for comparison."""
    from ppstudy.ciphers import deid

    if not isinstance(deidentified, np.ndarray) or deidentified.dtype != np.uint8:
        raise InputError("de-identified images: expected a uint8 numpy array")
    size = validate.integer("size", size, low=2, high=MAX_SIZE)
    if out_size is not None:
        out_size = validate.integer("out_size", out_size, low=2, high=MAX_SIZE)
    single = deidentified.ndim == 2 or (deidentified.ndim == 3 and deidentified.shape[-1] in (1, 3))
    batch = deidentified[None] if single else deidentified
    if batch.ndim == 4 and batch.shape[-1] == 1:
        batch = batch[..., 0]
        chan1 = True
    else:
        chan1 = False
    out_size = int(out_size or batch.shape[1])
    res = np.stack([deid.resize(deid.resize(b, int(size)), out_size) for b in batch])
    if chan1:
        res = res[..., None]
    return res[0] if single else res


def ope_warp(key, size: int, out_size: int) -> dict:
    """The warp of step 2+3 on one axis: where plaintext coordinate x (0..size) lands in the output
    image, ``f(x) / f(size) * out_size``, against the linear ``x / size * out_size``. Returns both and the
    largest and mean deviation in output pixels (what the OPE step actually moves)."""
    from ppstudy.ciphers import ope as _ope

    if not isinstance(key, _ope.OPEKey):
        raise InputError(f"ope_warp: expected an OPEKey, got {type(key).__name__}")
    size = validate.integer("size", size, low=1, high=MAX_SIZE)
    out_size = validate.integer("out_size", out_size, low=1, high=MAX_SIZE)
    xs = np.arange(int(size) + 1)
    f = _ope.encrypt(xs, key) - _ope.encrypt(0, key)
    land = f / f[-1] * out_size
    lin = xs / size * out_size
    dev = np.abs(land - lin)
    return {
        "x": xs,
        "landed": land,
        "linear": lin,
        "max_dev_px": float(dev.max()),
        "mean_dev_px": float(dev.mean()),
        "step_px_min": float(np.diff(land).min()),
        "step_px_max": float(np.diff(land).max()),
    }
