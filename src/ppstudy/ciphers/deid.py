"""Structural image de-identification of Ko, Choi, Shin, Liu and Choi (IEEE Access 2020).

A **keyed, non-invertible transform**, not a cipher: there is no decrypt. Its verbs:

* :func:`keygen` / :func:`paper_key`: the secret, an OPE key (:class:`ppstudy.ciphers.ope.OPEKey`);
* :func:`deidentify`: ``DeI = Rasterize(PosOPE(Vectorize(OI)))`` (the paper's Eq. 3) for an image or a batch;
* its three steps :func:`vectorize`, :func:`pos_ope`, :func:`rasterize`, and :func:`vector_images`
  (``Rasterize(Vectorize(OI))``, the paper's "vectorized image"); :func:`pipeline` gives both at once from
  one tracing;
* SVG helpers shared with :mod:`ppstudy.attacks.ope`: :func:`parse_svg`, :func:`svg_dimensions`,
  :func:`path_coordinates`, :func:`rewrite_svg`, and :func:`seam_mask` (what no shape covers).

The steps, with :class:`Settings`:

1. **Vectorize** (Algorithm 1): resize to ``size`` x ``size`` (``Param_size``; 50 is the paper's optimum for
   CIFAR-10) and trace. Default ``tracer="imagetracer"``: imagetracerjs 1.2.6 with its ``'default'``
   options, as the paper (:mod:`ppstudy.ciphers.imagetracer` describes what they do: a 16-colour palette
   sampled from each image and refined by 3 k-means passes, ``pathomit`` 8, straight lines and quadratic
   splines, one decimal, every shape stroked with a 1-px line of its colour). ``tracer="vtracer"``:
   visioncortex's Rust tracer (hierarchical clustering, stacked shapes, cubic splines, no strokes, a
   ``translate`` per path that is folded into absolute coordinates here).
2. **Position OPE** (Algorithm 2): every path coordinate ``p`` and the SVG's width and height become
   ``Enc(p) - Enc(0)``, token by token; colours, ``stroke-width`` and every other attribute stay, as the
   paper says. Fractional coordinates go through the monotone linear extension
   :func:`ppstudy.ciphers.ope.encrypt_real` (pyope takes integers only). Options: ``scale_strokes=True``
   multiplies ``stroke-width`` by the canvas enlargement ``(Enc(w) - Enc(0)) / w``, so that the strokes still
   cover the seams between shapes (the paper does not do this); ``ope_mode="literal"`` reads Algorithm 2's
   ``re.sub`` literally (see :func:`pos_ope`): it rewrites colours too and corrupts the SVG, so it is not
   the default.
3. **Rasterize**: render on white, resized to ``out_size`` x ``out_size`` ignoring the aspect ratio. Default
   ``renderer="resvg"`` renders directly at ``out_size`` with analytic anti-aliasing (``density=None``), or,
   with ``density=288``, at ``288/96`` times the SVG's size followed by Pillow's Lanczos resize.
   ``renderer="imagemagick"`` runs the paper's command, ``convert -density 288 in.svg -resize 224x224!
   out.png`` (Debian package ``imagemagick``; its internal MSVG renderer), one ``convert`` per batch.

Grayscale images are traced as three equal channels and returned with one channel (the mean of the
rendered channels). For a fixed key and settings the transform is deterministic.

Security in one line: one strictly increasing map ``f = Enc - Enc(0)`` moves every x and every y, so a
de-identified image is the tracing warped by ``(x, y) -> (f(x), f(y))`` and rescaled, plus white seams where
the unscaled 1-px strokes no longer cover the gaps between shapes; :mod:`ppstudy.attacks.ope` measures what
survives.

Untrusted SVG: :func:`parse_svg` and :func:`rasterize` accept only ``<svg>`` with ``<path>`` children and a
fixed set of presentation attributes; references (``href``, ``url(...)``), other elements (``<image>``,
``<use>``, ``<text>``, ``<circle>`` ...), DOCTYPEs, deep nesting and non-finite sizes raise one
:class:`ppstudy.InputError`.
"""

from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ppstudy import InputError, validate
from ppstudy.ciphers import ope as _ope
from ppstudy.ciphers.ope import PAPER_IN_RANGE, PAPER_OUT_RANGE, OPEKey

SVG_NS = "http://www.w3.org/2000/svg"
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TOKEN = re.compile(rf"([MLCQZmlcqzHhVvSsTtAa])|({_NUM})")
_SEP = re.compile(rf"(?:[MLCQZmlcqzHhVvSsTtAa]|{_NUM}|[\s,])*")
_TRANSLATE = re.compile(rf"^\s*translate\(\s*({_NUM})\s*(?:[,\s]\s*({_NUM}))?\s*\)\s*$")
_LENGTH = re.compile(rf"\s*({_NUM})\s*(?:px)?\s*")
#: commands whose arguments are absolute (x, y) pairs; both tracers write only these
_ABS = set("MLCQZ")
#: the largest width or height accepted (pixels); a traced image has its size, a shifted one ~10x that
MAX_DIMENSION = 1e6
#: caps on untrusted SVG, checked before the expensive work (parsing costs ~260 bytes of memory per input
#: character, rendering ~60 us per point): at most MAX_SVG_CHARS characters (2 MiB; a traced 50x50 image
#: is ~20 KB), MAX_SVG_ELEMENTS <path> elements, MAX_SVG_POINTS (x, y) coordinates in all, and elements
#: nested at most MAX_SVG_DEPTH levels (<svg> and its <path> children)
MAX_SVG_CHARS = 2 << 20
MAX_SVG_ELEMENTS = 20_000
MAX_SVG_POINTS = 100_000
MAX_SVG_DEPTH = 2
#: densities accepted by rasterize (dpi), as in :class:`Settings`
DENSITY_RANGE = (24, 1200)
#: attributes a traced SVG may carry (anything else, e.g. href or an event handler, is refused)
_ROOT_ATTRS = {"width", "height", "version", "desc", "viewBox", "preserveAspectRatio", "baseProfile", "id"}
_PATH_ATTRS = {
    "d",
    "fill",
    "stroke",
    "stroke-width",
    "opacity",
    "fill-opacity",
    "stroke-opacity",
    "fill-rule",
    "stroke-linejoin",
    "stroke-linecap",
    "stroke-miterlimit",
    "transform",
    "id",
    "desc",
}
_PAINT_ATTRS = {"fill", "stroke"}

TRACERS = ("imagetracer", "vtracer")
RENDERERS = ("resvg", "imagemagick", "skia", "skia-magick")
#: renderer="skia-magick" draws like ImageMagick's MSVG renderer (measured against ``convert`` on traced
#: images and test shapes, benchmarks/bench_render.py): half a device pixel right of and below where resvg
#: and Skia draw, and every shape about 0.3 device pixels wider on each side (its anti-aliasing; the widening
#: that makes the two renderers' pixels closest)
MAGICK_OFFSET_PX = 0.5
MAGICK_DILATION_PX = 0.3
OPE_MODES = ("token", "literal")


@dataclass(frozen=True)
class Settings:
    """Parameters of the three steps. Defaults: the paper's (imagetracerjs 'default', 50 -> 224), except the
    renderer (resvg at the output size; ``renderer="imagemagick"`` runs the paper's ImageMagick command)."""

    size: int = 50  # Param_size: the image is resized to size x size before tracing
    out_size: int = 224  # side of the de-identified raster image
    tracer: str = "imagetracer"  # "imagetracer" (imagetracerjs 1.2.6, the paper's) or "vtracer"
    options: str = "default"  # imagetracerjs option preset (the paper: 'default')
    renderer: str = "resvg"  # "resvg", "imagemagick" (the paper's convert command) or "skia" (fast)
    density: int | None | str = "auto"  # dpi; "auto": None for resvg (render at out_size), 288 for imagemagick
    scale_strokes: bool = False  # scale stroke-width with the OPE canvas (not in the paper)
    ope_mode: str = "token"  # "token": Algorithm 2 token by token; "literal": its re.sub over the document
    mode: str = "spline"  # vtracer curve fitting: "spline" (Bezier) or "polygon"
    path_precision: int = 1  # vtracer: decimals of the coordinates it writes
    filter_speckle: int = 4  # vtracer: drop patches smaller than this (pixels)
    color_precision: int = 6  # vtracer: significant bits per colour channel
    layer_difference: int = 16  # vtracer: colour difference between gradient layers

    def __post_init__(self):
        for name in ("size", "out_size", "filter_speckle", "color_precision", "layer_difference"):
            v = getattr(self, name)
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, np.integer))
                or v < (0 if name == "filter_speckle" else 1)
            ):
                raise InputError(f"deid settings: {name} must be a positive integer, got {v!r}")
        if not 4 <= self.size <= 4096 or not 4 <= self.out_size <= 4096:
            raise InputError(f"deid settings: size {self.size} and out_size {self.out_size} must lie in 4..4096")
        for name, top in (("color_precision", 8), ("layer_difference", 256), ("filter_speckle", 4096 * 4096)):
            validate.integer(f"deid settings: {name}", getattr(self, name), high=top)
        for name, allowed in (
            ("tracer", TRACERS),
            ("renderer", RENDERERS),
            ("ope_mode", OPE_MODES),
            ("mode", ("spline", "polygon")),
        ):
            if getattr(self, name) not in allowed:
                raise InputError(
                    f"deid settings: {name} must be one of {', '.join(map(repr, allowed))}, got {getattr(self, name)!r}"
                )
        from ppstudy.ciphers.imagetracer import check_options

        if not isinstance(self.options, str):
            raise InputError(f"deid settings: options must be an imagetracerjs preset name, got {self.options!r}")
        check_options(self.options)
        validate.integer("deid settings: path_precision", self.path_precision, low=0, high=8)
        if isinstance(self.density, str) and self.density == "auto":
            object.__setattr__(self, "density", 288 if self.renderer in ("imagemagick", "skia-magick") else None)
        object.__setattr__(self, "density", _check_density(self.density, "deid settings: density"))
        validate.boolean("deid settings: scale_strokes", self.scale_strokes)
        if self.scale_strokes and self.ope_mode == "literal":
            raise InputError("deid settings: scale_strokes applies to ope_mode='token' only")


def _check_density(density, name: str = "rasterize: density") -> int | None:
    """None or an integer density in :data:`DENSITY_RANGE` dpi (0 would render a 1x1 image)."""
    if density is None:
        return None
    return validate.integer(f"{name} (None or dpi)", density, low=DENSITY_RANGE[0], high=DENSITY_RANGE[1])


# --------------------------------------------------------------------------- keys
def keygen(
    *, seed: int | np.random.SeedSequence | None = None, in_range=PAPER_IN_RANGE, out_range=PAPER_OUT_RANGE
) -> OPEKey:
    """The secret of de-identification: a random OPE key (see :func:`ppstudy.ciphers.ope.keygen`)."""
    return _ope.keygen(seed=seed, in_range=in_range, out_range=out_range)


def paper_key() -> OPEKey:
    """The OPE key and ranges printed in the paper."""
    return _ope.paper_key()


# --------------------------------------------------------------------------- images
def check_image(img: np.ndarray, what: str = "image") -> np.ndarray:
    """A uint8 HxW, HxWx1 (returned as HxW) or HxWx3 image of at least 2x2."""
    if not isinstance(img, np.ndarray):
        raise InputError(f"{what}: expected a numpy array, got {type(img).__name__}")
    if img.dtype != np.uint8:
        raise InputError(f"{what}: expected dtype uint8, got {img.dtype}")
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[-1] == 3)):
        raise InputError(f"{what}: expected HxW, HxWx1 or HxWx3, got shape {img.shape}")
    if min(img.shape[:2]) < 2:
        raise InputError(f"{what}: image of shape {img.shape} is too small to trace")
    return img


def resize(img: np.ndarray, size: int) -> np.ndarray:
    """Resize one uint8 image to ``size`` x ``size`` (bilinear, anti-aliased when shrinking)."""
    from ppstudy.images import resize as _resize

    return _resize(check_image(img), size)


def _batch_of(images, what: str = "images") -> tuple[np.ndarray, bool, bool]:
    """``(batch, single, keep_channel)``: HxW or HxWx{1,3} is one image; NxHxW or NxHxWx{1,3} a batch
    (:func:`ppstudy.images.split_batch`); ``keep_channel``: the images are NxHxWx1."""
    from ppstudy.images import split_batch

    batch, single = split_batch(images, name=what)
    if min(batch.shape[1:3]) < 2:
        raise InputError(f"{what}: images of shape {batch.shape[1:]} are too small to trace")
    return batch, single, batch.ndim == 4 and batch.shape[-1] == 1


# --------------------------------------------------------------------------- SVG
@dataclass
class TracedSVG:
    """A checked SVG of paths: the tree, its paths, each path's commands (letter, number count) and absolute
    coordinates (k x 2, any ``translate`` folded in), and the canvas size."""

    root: ET.Element
    paths: list[ET.Element]
    commands: list[list[tuple[str, int]]]
    xy: list[np.ndarray]
    width: float
    height: float

    @property
    def coordinates(self) -> np.ndarray:
        """All coordinates of all paths, in document order (k x 2)."""
        return np.concatenate(self.xy) if self.xy else np.zeros((0, 2))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag


def check_svg(svg: str) -> ET.Element:
    """Parse an untrusted SVG string and check that it is a traced image: ``<svg>`` holding ``<path>``
    elements only, no references, finite positive width and height. Returns the root element."""
    if not isinstance(svg, str):
        raise InputError(f"SVG: expected a string, got {type(svg).__name__}")
    if len(svg) > MAX_SVG_CHARS:
        raise InputError(f"SVG: {len(svg)} characters is more than the cap MAX_SVG_CHARS = {MAX_SVG_CHARS}")
    if re.search(r"<!(?:DOCTYPE|ENTITY)", svg, re.IGNORECASE):
        raise InputError("SVG: DOCTYPE and ENTITY declarations are not accepted")
    tags = svg.count("<")  # an upper bound on the elements, counted before parsing
    if tags > 2 * (MAX_SVG_ELEMENTS + 1) + 2:  # each element has at most an opening and a closing tag
        raise InputError(f"SVG: {tags} tags, more than the cap MAX_SVG_ELEMENTS = {MAX_SVG_ELEMENTS} elements allows")
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as e:
        raise InputError(f"malformed SVG: {e}") from None
    if root.tag not in ("svg", f"{{{SVG_NS}}}svg"):
        raise InputError(f"SVG: the root element is <{_local(root.tag)}>, not <svg>")
    # depth first, without recursion: a traced SVG is two levels deep
    depth, stack = 0, [(root, 1)]
    while stack:
        el, d = stack.pop()
        depth = max(depth, d)
        stack.extend((c, d + 1) for c in el)
    if depth > MAX_SVG_DEPTH:
        raise InputError(
            f"SVG: elements nested {depth} levels deep, more than the cap MAX_SVG_DEPTH = {MAX_SVG_DEPTH}; "
            f"a traced SVG has <path> elements directly under <svg>"
        )
    if len(root) > MAX_SVG_ELEMENTS:
        raise InputError(f"SVG: {len(root)} elements, more than the cap MAX_SVG_ELEMENTS = {MAX_SVG_ELEMENTS}")
    for i, el in enumerate([root, *root]):
        name = _local(el.tag)
        if i and name != "path":
            raise InputError(
                f"SVG: element <{name}> is not accepted (a traced SVG holds <path> elements only; "
                f"no images, references, text or other shapes)"
            )
        allowed = _ROOT_ATTRS if i == 0 else _PATH_ATTRS
        for attr, value in el.attrib.items():
            local = _local(attr)
            if local == "href":
                raise InputError(f"SVG: <{name}> has an external reference {attr}={value[:60]!r}; not accepted")
            if attr not in allowed:
                raise InputError(f"SVG: <{name}> has the attribute {attr!r}, which a traced SVG does not use")
            if "url(" in value.lower() or (attr in _PAINT_ATTRS and ":" in value):
                raise InputError(f"SVG: <{name}> {attr}={value[:60]!r} references a resource; not accepted")
        if el.text and el.text.strip():
            raise InputError(f"SVG: <{name}> holds text; a traced SVG does not")
    svg_dimensions(root)
    return root


def svg_dimensions(svg: str | ET.Element) -> tuple[float, float]:
    """``(width, height)`` of an SVG in pixels: finite, positive and at most :data:`MAX_DIMENSION`."""
    root = check_svg(svg) if isinstance(svg, str) else svg
    out = []
    for name in ("width", "height"):
        v = root.get(name)
        if v is None:
            raise InputError(f"SVG: the <svg> element has no {name} attribute")
        m = _LENGTH.fullmatch(v)
        x = float(m.group(1)) if m else math.nan
        if not (math.isfinite(x) and 0 < x <= MAX_DIMENSION):
            raise InputError(f"SVG: {name}={v[:40]!r} is not a positive number of pixels up to {MAX_DIMENSION:g}")
        out.append(x)
    return out[0], out[1]


_CMD = re.compile(r"([MmZzLlHhVvCcSsQqTtAa])")  # not e/E: exponents
_NUMS = re.compile(_NUM)


def _path_numbers(el: ET.Element, i: int) -> tuple[list[tuple[str, int]], np.ndarray]:
    d = el.get("d")
    if d is None:
        raise InputError(f"SVG: path {i} has no d attribute")
    if _SEP.fullmatch(d) is None:
        raise InputError(f"SVG: path {i} has characters that are not path data in d={d[:60]!r}")
    parts = _CMD.split(d)  # [before the first command, command, its arguments, command, ...]
    if _NUMS.search(parts[0]):
        raise InputError(f"SVG: path {i} starts with a number, not a command")
    cmds: list[tuple[str, int]] = []
    nums: list[str] = []
    for c, args in zip(parts[1::2], parts[2::2], strict=True):
        if c not in _ABS:
            raise InputError(
                f"SVG: path {i} uses the command {c!r}; position OPE needs absolute "
                f"M/L/C/Q/Z commands whose arguments are (x, y) pairs"
            )
        v = _NUMS.findall(args)
        if len(v) % 2:
            raise InputError(f"SVG: path {i} has an odd number of coordinates after {c!r}")
        cmds.append((c, len(v)))
        nums += v
    xy = np.array(nums, dtype=np.float64).reshape(-1, 2)
    tr = el.get("transform")
    if tr is not None:
        m = _TRANSLATE.match(tr)
        if not m:
            raise InputError(f"SVG: path {i} has transform={tr[:60]!r}; only translate(x, y) is supported")
        xy = xy + [float(m.group(1)), float(m.group(2) or 0.0)]
    if xy.size and not np.all(np.isfinite(xy)):
        raise InputError(f"SVG: path {i} has a coordinate that is not a finite number")
    return cmds, xy


def _check_points(paths: list[ET.Element]) -> None:
    """Refuse more than :data:`MAX_SVG_POINTS` coordinates in all, counted without building any list."""
    total = 0
    for el in paths:
        total += sum(1 for _ in _NUMS.finditer(el.get("d") or ""))
        if total > 2 * MAX_SVG_POINTS:
            raise InputError(
                f"SVG: more than {2 * MAX_SVG_POINTS} path numbers, beyond the cap MAX_SVG_POINTS = "
                f"{MAX_SVG_POINTS} (x, y) points"
            )


def parse_svg(svg: str) -> TracedSVG:
    """Check and parse an SVG of paths (see :func:`check_svg`) into a :class:`TracedSVG`."""
    root = check_svg(svg)
    w, h = svg_dimensions(root)
    paths = list(root)
    _check_points(paths)
    parsed = [_path_numbers(el, i) for i, el in enumerate(paths)]
    return TracedSVG(root, paths, [c for c, _ in parsed], [xy for _, xy in parsed], w, h)


def path_coordinates(svg: str) -> np.ndarray:
    """All absolute (x, y) coordinates of an SVG's paths (``translate`` folded in), k x 2."""
    return parse_svg(svg).coordinates


def _fmt(v: float) -> str:
    s = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _fmt_all(values: np.ndarray) -> list[str]:
    """:func:`_fmt` for many values at once (3 decimals, no trailing zeros, no "-0")."""
    r = np.round(np.asarray(values, dtype=np.float64).ravel(), 3) + 0.0  # + 0.0 turns -0.0 into 0.0
    return [f"{v:.12g}" for v in r.tolist()]


def _serialize(root: ET.Element) -> str:
    ET.register_namespace("", SVG_NS)
    return ET.tostring(root, encoding="unicode")


def rewrite_svg(
    parsed: TracedSVG, xy: np.ndarray, width: str, height: str, *, stroke_scale: float | None = None
) -> str:
    """Write new absolute coordinates (k x 2, in the order of :attr:`TracedSVG.coordinates`) into every path
    and the new canvas size; any ``transform`` (folded into the coordinates) is dropped. ``stroke_scale``
    multiplies every ``stroke-width`` (a path without one gets ``stroke_scale`` times SVG's default 1 only
    when it has a stroke)."""
    xy = np.asarray(xy, dtype=np.float64)
    n = sum(len(p) for p in parsed.xy)
    if xy.shape != (n, 2):
        raise InputError(f"rewrite_svg: expected {n} x 2 coordinates, got shape {xy.shape}")
    flat = _fmt_all(xy)
    pos = 0
    for el, cmds in zip(parsed.paths, parsed.commands, strict=True):
        parts = []
        for c, k in cmds:
            parts.append(c + " " + " ".join(flat[pos : pos + k]) if k else c)
            pos += k
        el.set("d", " ".join(parts))
        el.attrib.pop("transform", None)
        if stroke_scale is not None and (el.get("stroke-width") is not None or el.get("stroke") not in (None, "none")):
            sw = el.get("stroke-width", "1")
            m = _LENGTH.fullmatch(sw)
            if not m:
                raise InputError(f"SVG: stroke-width={sw[:30]!r} is not a number")
            el.set("stroke-width", _fmt(float(m.group(1)) * stroke_scale))
    parsed.root.set("width", width)
    parsed.root.set("height", height)
    return _serialize(parsed.root)


# --------------------------------------------------------------------------- step 1
def vectorize(images: np.ndarray, settings: Settings = Settings()) -> str | list[str]:
    """Step 1: resize to ``settings.size`` and trace. One image gives an SVG string, a batch a list of them
    (imagetracerjs traces a batch through one engine call)."""
    if not isinstance(settings, Settings):
        raise InputError(f"expected deid Settings, got {type(settings).__name__}")
    batch, single, _ = _batch_of(images)
    small = [resize(im, settings.size) for im in batch]
    if settings.tracer == "imagetracer":
        from ppstudy.ciphers import imagetracer

        svgs = imagetracer.trace(small, options=settings.options)
    else:
        svgs = [_vtracer(im, settings) for im in small]
    return svgs[0] if single else svgs


def _vtracer(img: np.ndarray, settings: Settings) -> str:
    import vtracer
    from PIL import Image

    rgb = np.repeat(img[..., None], 3, axis=-1) if img.ndim == 2 else img
    b = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(b, format="png", compress_level=0)
    return vtracer.convert_raw_image_to_svg(
        b.getvalue(),
        img_format="png",
        colormode="color",
        hierarchical="stacked",
        mode=settings.mode,
        filter_speckle=settings.filter_speckle,
        color_precision=settings.color_precision,
        layer_difference=settings.layer_difference,
        path_precision=settings.path_precision,
    )


# --------------------------------------------------------------------------- step 2
def _offset(key: OPEKey) -> float:
    lo, hi = key.in_range
    return float(_ope.encrypt(0 if lo <= 0 <= hi else lo, key))


def pos_ope(svg: str, key: OPEKey, *, scale_strokes: bool = False, mode: str = "token") -> str:
    """Step 2 (Algorithm 2): ``Enc(p) - Enc(0)`` for every path coordinate and for width and height.

    ``mode="token"`` (default): each number of each path's ``d`` is one coordinate and is replaced by its
    encryption; colours and other attributes stay. ``scale_strokes`` also multiplies ``stroke-width`` by the
    canvas enlargement (geometric mean of ``Enc(w) - Enc(0)) / w`` and the same for h).

    ``mode="literal"``: Algorithm 2 as printed, with ``re.sub(p, c, ...)`` applied to the document text:
    for each path in order, for each number string ``p`` of its ``d.split()`` not substituted before (a
    repeated string would be substituted again, without end), every match of the
    pattern ``p`` (unescaped, unanchored) anywhere in the body of the document (all ``<path>`` elements,
    their ``fill``/``stroke`` colours, ``stroke-width`` and ``opacity`` included, and numbers written by
    earlier substitutions) becomes ``Enc(p) - Enc(0)``; then the same for the height and the width strings,
    which also replaces the root's attributes. Colours and coordinates are corrupted; the root element's
    namespace is kept so that the result still parses. Not the paper's intent; kept to measure it.
    """
    if not isinstance(key, OPEKey):
        raise InputError(f"position OPE: expected an OPEKey, got {type(key).__name__}")
    if mode not in OPE_MODES:
        raise InputError(f"position OPE: mode must be 'token' or 'literal', got {mode!r}")
    scale_strokes = validate.boolean("position OPE: scale_strokes", scale_strokes)
    t = parse_svg(svg)
    allxy = np.concatenate([t.coordinates, [[t.width, t.height]]])
    lo, hi = key.in_range
    if allxy.min() < lo or allxy.max() > hi:
        raise InputError(
            f"SVG coordinates {allxy.min():g}..{allxy.max():g} fall outside the OPE key's input range {key.in_range}"
        )
    offset = _offset(key)
    if mode == "literal":
        if scale_strokes:
            raise InputError("position OPE: scale_strokes applies to mode='token' only")
        return _pos_ope_literal(t, key, offset)
    enc = _ope.encrypt_real(allxy, key) - offset  # one vectorised look-up for the whole image
    ew, eh = enc[-1]
    scale = math.sqrt(ew / t.width * eh / t.height) if scale_strokes else None
    return rewrite_svg(t, enc[:-1], _fmt(ew), _fmt(eh), stroke_scale=scale)


def _pos_ope_literal(t: TracedSVG, key: OPEKey, offset: float) -> str:
    def enc(p: str) -> str:
        return _fmt(float(_ope.encrypt_real([float(p)], key)[0]) - offset)

    body = "".join(_serialize(el).replace(f' xmlns="{SVG_NS}"', "") for el in t.paths)
    seen: set[str] = set()
    for el in t.paths:
        for p in el.get("d", "").split():
            if re.fullmatch(_NUM, p) and p not in seen:
                seen.add(p)
                body = re.sub(p, enc(p), body)
                if len(body) > MAX_SVG_CHARS // 4:
                    raise InputError(
                        f"position OPE (literal): the substitutions grew the SVG past {MAX_SVG_CHARS // 4} characters"
                    )
    w, h = t.root.get("width", ""), t.root.get("height", "")
    root_attrs = {"width": w, "height": h}
    for v in (h, w):
        m = _LENGTH.fullmatch(v)
        assert m is not None  # checked by parse_svg
        p = m.group(1)
        c = enc(p)
        body = re.sub(p, c, body)
        root_attrs = {k: re.sub(p, c, a) for k, a in root_attrs.items()}
    return (
        f'<svg xmlns="{SVG_NS}" width="{root_attrs["width"]}" height="{root_attrs["height"]}" '
        f'version="1.1">{body}</svg>'
    )


def canvas_size(key: OPEKey, size: int) -> int:
    """Width of the position-shifted SVG of a ``size`` x ``size`` image: ``Enc(size) - Enc(0)``."""
    size = validate.integer("canvas_size: size", size, low=0)
    return int(_ope.encrypt(size, key) - _ope.encrypt(0, key))


# --------------------------------------------------------------------------- step 3
def _render_size(w: float, h: float, out_size: int, density: int | None) -> tuple[int, int]:
    if density is None:
        return out_size, out_size
    rw, rh = w * density / 96, h * density / 96
    if rw * rh > 64e6:
        raise InputError(f"rasterize: {rw:.0f}x{rh:.0f} pixels at density {density} is too large (64 Mpixel)")
    return max(1, round(rw)), max(1, round(rh))


def _sized(root: ET.Element, rw: int, rh: int, offset: float = 0.0) -> str:
    """The SVG scaled to ``rw`` x ``rh`` pixels (aspect ratio ignored), drawn ``offset`` pixels right of and
    below its place, as text."""
    w, h = svg_dimensions(root)
    dx, dy = -offset * w / rw, -offset * h / rh
    root.set("viewBox", f"{dx:.9g} {dy:.9g} {_fmt(w)} {_fmt(h)}" if offset else f"0 0 {_fmt(w)} {_fmt(h)}")
    root.set("preserveAspectRatio", "none")
    root.set("width", str(rw))
    root.set("height", str(rh))
    return _serialize(root)


def _resvg_png(root: ET.Element, rw: int, rh: int, background: str | None) -> bytes:
    import resvg_py

    text = _sized(root, rw, rh)
    try:
        return bytes(resvg_py.svg_to_bytes(svg_string=text, background=background, skip_system_fonts=True))
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as e:  # noqa: B036  resvg's Rust panics (absurd coordinates) arrive as pyo3 PanicException
        msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise InputError(f"rasterize: resvg could not render the SVG: {msg}") from None


def _finish(im, out_size: int, gray: bool) -> np.ndarray:
    from PIL import Image

    if im.mode in ("RGBA", "LA", "P") or "transparency" in im.info:
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im)
    im = im.convert("RGB")
    if im.size != (out_size, out_size):
        im = im.resize((out_size, out_size), Image.Resampling.LANCZOS)
    a = np.asarray(im, dtype=np.uint8)
    if gray:
        a = np.rint(a.astype(np.float32).mean(-1)).astype(np.uint8)
    return a


def _check_out_size(out_size) -> int:
    if isinstance(out_size, bool) or not isinstance(out_size, (int, np.integer)) or not 4 <= out_size <= 4096:
        raise InputError(f"rasterize: out_size must be an integer in 4..4096, got {out_size!r}")
    return int(out_size)


def imagemagick_executable() -> str | None:
    """ImageMagick's ``convert`` (Debian: ``apt-get install imagemagick``), or None. A ``convert`` that is not
    ImageMagick (e.g. a stand-in that only prints PNGs) does not count."""
    exe = shutil.which("convert")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return exe if out.startswith("Version: ImageMagick") else None


def _imagemagick(
    svgs: Sequence[str], sizes: Sequence[tuple[int, int]], out_size: int, density: int | None, gray: bool
) -> list[np.ndarray]:
    """``convert [-density D] in.svg -resize SxS! out.png`` for every SVG. One process renders a group of
    SVGs (``convert -density D 1.svg 2.svg ... -resize SxS! out-%d.png``: the same operations image by
    image); a group holds at most ~40 Mpixel of renders, since convert keeps them all before resizing."""
    from PIL import Image

    exe = imagemagick_executable()
    if exe is None:
        raise InputError(
            "rasterize: renderer='imagemagick' needs ImageMagick's convert (Debian: apt-get install imagemagick)"
        )
    groups: list[list[int]] = []
    budget = 0.0
    for i, (rw, rh) in enumerate(sizes):
        if not groups or budget + rw * rh > 40e6 or len(groups[-1]) >= 64:
            groups.append([])
            budget = 0.0
        groups[-1].append(i)
        budget += rw * rh
    out = []
    with tempfile.TemporaryDirectory(prefix="ppstudy-im-") as tmp:
        d = Path(tmp)
        for i, s in enumerate(svgs):
            (d / f"{i:06d}.svg").write_text(s, encoding="utf8")
        for j, group in enumerate(groups):
            cmd = (
                [exe]
                + (["-density", str(density)] if density is not None else [])
                + [f"{i:06d}.svg" for i in group]
                + ["-resize", f"{out_size}x{out_size}!", f"out-{j:06d}-%06d.png"]
            )
            r = subprocess.run(cmd, cwd=d, capture_output=True, text=True, timeout=900)
            if r.returncode != 0:
                raise InputError(f"rasterize: ImageMagick failed: {r.stderr.strip()[:300]}")
            for k in range(len(group)):
                with Image.open(d / f"out-{j:06d}-{k:06d}.png") as im:
                    im.load()
                    out.append(_finish(im, out_size, gray))
    return out


def _skia(root: ET.Element, rw: int, rh: int, offset: float = 0.0):
    """Skia's SVG module (skia-python), on white, drawn ``offset`` pixels right of and below; a PIL image."""
    try:
        import skia
    except ImportError:
        raise InputError("rasterize: renderer='skia' needs skia-python (pip install skia-python)") from None
    from PIL import Image

    data = _sized(root, rw, rh, offset).encode("utf8")
    stream = skia.MemoryStream(data)  # does not copy: data must outlive the parse
    dom = skia.SVGDOM.MakeFromStream(stream)
    if dom is None:
        raise InputError("rasterize: skia could not parse the SVG")
    surface = skia.Surface(rw, rh)
    canvas = surface.getCanvas()
    canvas.clear(skia.ColorWHITE)
    dom.setContainerSize(skia.Size(rw, rh))
    dom.render(canvas)
    rgba = surface.makeImageSnapshot().toarray(colorType=skia.kRGBA_8888_ColorType)
    return Image.fromarray(np.ascontiguousarray(rgba[..., :3]))


def _magick_dilated(root: ET.Element, density: int) -> ET.Element:
    """A copy of ``root`` whose every shape is :data:`MAGICK_DILATION_PX` device pixels wider on each side at
    ``density``: stroked paths get a wider stroke, unstroked ones a stroke of their fill colour."""
    import copy

    root = copy.deepcopy(root)
    extra = 2 * MAGICK_DILATION_PX * 96 / density  # in SVG units
    for el in root:
        stroke = el.get("stroke")
        if stroke is None or stroke == "none":
            fill = el.get("fill")
            if fill is None or fill == "none":
                continue
            el.set("stroke", fill)
            el.set("stroke-width", _fmt(extra))
        else:
            m = _LENGTH.fullmatch(el.get("stroke-width", "1"))
            width = float(m.group(1)) if m else 1.0
            el.set("stroke-width", f"{width + extra:.6g}")
    return root


def rasterize_many(
    svgs: Sequence[str], out_size: int = 224, *, density: int | None = None, gray: bool = False, renderer: str = "resvg"
) -> np.ndarray:
    """Step 3 for a list of SVGs: an ``N x out_size x out_size (x 3)`` uint8 array (see :func:`rasterize`)."""
    from PIL import Image

    out_size = _check_out_size(out_size)
    density = _check_density(density)
    gray = validate.boolean("rasterize: gray", gray)
    if renderer not in RENDERERS:
        raise InputError(f"rasterize: renderer must be one of {', '.join(map(repr, RENDERERS))}, got {renderer!r}")
    if isinstance(svgs, str) or not isinstance(svgs, Sequence):
        raise InputError(f"rasterize_many: expected a list of SVG strings, got {type(svgs).__name__}")
    roots = [check_svg(s) for s in svgs]
    for root in roots:
        _check_points(list(root))
    if renderer == "imagemagick":
        # ImageMagick renders at density / 96 times the SVG's size (its default density without -density)
        sizes = [_render_size(*svg_dimensions(root), out_size, density or 96) for root in roots]
        res = _imagemagick([_serialize(r) for r in roots], sizes, out_size, density, gray)
    elif renderer == "skia":
        res = [
            _finish(_skia(root, *_render_size(*svg_dimensions(root), out_size, density)), out_size, gray)
            for root in roots
        ]
    elif renderer == "skia-magick":
        from ppstudy.images import resize_magick

        res = []
        for root in roots:
            rw, rh = _render_size(*svg_dimensions(root), out_size, density or 96)
            im = np.asarray(_skia(_magick_dilated(root, density or 96), rw, rh, MAGICK_OFFSET_PX), dtype=np.uint8)
            a = resize_magick(im, out_size) if (rw, rh) != (out_size, out_size) else im
            res.append(np.rint(a.astype(np.float32).mean(-1)).astype(np.uint8) if gray else a)
    else:
        res = []
        for root in roots:
            rw, rh = _render_size(*svg_dimensions(root), out_size, density)
            png = _resvg_png(root, rw, rh, "#ffffff")
            with Image.open(io.BytesIO(png)) as im:
                res.append(_finish(im, out_size, gray))
    if not res:
        return np.zeros((0, out_size, out_size) + (() if gray else (3,)), np.uint8)
    return np.stack(res)


def rasterize(
    svg: str, out_size: int = 224, *, density: int | None = None, gray: bool = False, renderer: str = "resvg"
) -> np.ndarray:
    """Step 3: render an SVG onto white and resize to ``out_size`` x ``out_size`` (aspect ratio ignored).

    ``renderer="resvg"``: with ``density=None`` resvg renders at the output size directly (anti-aliased);
    with a density, at ``density / 96`` times the SVG's size, then a Lanczos resize. ``"skia"``: the same
    with Skia's SVG renderer. ``"imagemagick"``: ``convert -density D in.svg -resize SxS! out.png`` (no
    ``-density`` when it is None).
    """
    return rasterize_many([svg], out_size, density=density, gray=gray, renderer=renderer)[0]


def seam_mask(svg: str, out_size: int = 224, *, density: int | None = None, threshold: float = 0.5) -> np.ndarray:
    """Pixels that no shape or stroke covers (``out_size`` x ``out_size`` bool): where the white background
    shows through. Rendered by resvg on a transparent canvas; a pixel counts as uncovered when its coverage
    (alpha) is below ``threshold``."""
    from PIL import Image

    out_size = _check_out_size(out_size)
    density = _check_density(density, "seam_mask: density")
    threshold = validate.number("seam_mask: threshold", threshold, low=0, high=1, low_open=True)
    root = check_svg(svg)
    _check_points(list(root))
    rw, rh = _render_size(*svg_dimensions(root), out_size, density)
    with Image.open(io.BytesIO(_resvg_png(root, rw, rh, None))) as im:
        a = im.convert("RGBA").getchannel("A")
        if a.size != (out_size, out_size):
            a = a.resize((out_size, out_size), Image.Resampling.BILINEAR)
        return np.asarray(a, dtype=np.float64) < threshold * 255


# --------------------------------------------------------------------------- whole pipeline
OUTPUTS = ("vector", "deid", "svg", "shifted")


def _chunk(batch: np.ndarray, key: OPEKey | None, settings: Settings, outputs: tuple[str, ...]) -> dict:
    gray = batch.ndim == 3 or batch.shape[-1] == 1
    svgs = vectorize(batch, settings)
    svgs = [svgs] if isinstance(svgs, str) else svgs
    res: dict = {}
    density = settings.density if isinstance(settings.density, int) else None  # "auto" resolved by Settings

    def raster(group: list[str]) -> np.ndarray:
        return rasterize_many(group, settings.out_size, density=density, gray=gray, renderer=settings.renderer)

    if "svg" in outputs:
        res["svg"] = svgs
    if "vector" in outputs:
        res["vector"] = raster(svgs)
    if "deid" in outputs or "shifted" in outputs:
        if key is None:
            raise InputError("de-identification key: expected an OPEKey, got None")
        shifted = [pos_ope(s, key, scale_strokes=settings.scale_strokes, mode=settings.ope_mode) for s in svgs]
        if "shifted" in outputs:
            res["shifted"] = shifted
        if "deid" in outputs:
            res["deid"] = raster(shifted)
    return res


def _chunk_star(args):
    return _chunk(*args)


def pipeline(
    images: np.ndarray,
    key: OPEKey | None,
    settings: Settings = Settings(),
    *,
    outputs: Sequence[str] = ("vector", "deid"),
    workers: int = 1,
    progress: bool = False,
    chunk: int = 32,
    desc: str = "de-identify",
) -> dict:
    """The three steps on a batch, tracing each image once. ``outputs``: any of ``"vector"`` (the rendered
    tracing), ``"deid"`` (the de-identified images), ``"svg"`` and ``"shifted"`` (the SVG strings before and
    after position OPE). Arrays keep the input's layout (one image, NxHxW, NxHxWx1, NxHxWx3, N = 0 too).

    ``workers > 1`` spreads chunks of ``chunk`` images over forked processes (each with its own tracer
    engine); results are identical to ``workers=1``.
    """
    if not isinstance(settings, Settings):
        raise InputError(f"expected deid Settings, got {type(settings).__name__}")
    outputs = tuple(outputs)
    for o in outputs:
        if o not in OUTPUTS:
            raise InputError(f"pipeline: unknown output {o!r} (choose from {', '.join(OUTPUTS)})")
    if ("deid" in outputs or "shifted" in outputs) and not isinstance(key, OPEKey):
        raise InputError(f"de-identification key: expected an OPEKey, got {type(key).__name__}")
    workers = validate.positive_int("workers", workers)
    chunk = validate.positive_int("chunk", chunk)
    progress = validate.boolean("progress", progress)
    batch, single, keep_channel = _batch_of(images)
    if keep_channel:
        batch = batch[..., 0]
    if key is not None:
        _ope.table(key)  # build (or load) the table once, before any worker starts
    parts = [batch[i : i + chunk] for i in range(0, len(batch), chunk)]
    args = [(p, key, settings, outputs) for p in parts]
    from ppstudy.progress import meter

    bar = meter(len(batch), desc=desc, unit="img", enabled=progress and len(batch) >= 50)
    results = []
    if workers > 1 and len(parts) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(workers, len(parts)), mp_context=mp.get_context("fork")) as ex:
            for p, r in zip(parts, ex.map(_chunk_star, args), strict=True):
                results.append(r)
                bar.update(len(p))
    else:
        for a in args:
            results.append(_chunk(*a))
            bar.update(len(a[0]))
    bar.close()
    out: dict = {}
    rgb = batch.ndim == 4
    for o in outputs:
        if o in ("svg", "shifted"):
            vals: list = [s for r in results for s in r[o]]
            out[o] = vals[0] if single else vals
            continue
        arrs = [r[o] for r in results]
        empty = np.zeros((0, settings.out_size, settings.out_size) + ((3,) if rgb else ()), np.uint8)
        arr: np.ndarray = np.concatenate(arrs) if arrs else empty
        if keep_channel:
            arr = arr[..., None]
        out[o] = arr[0] if single else arr
    return out


def deidentify(
    images: np.ndarray, key: OPEKey, settings: Settings = Settings(), *, workers: int = 1, progress: bool = False
) -> np.ndarray:
    """``Rasterize(PosOPE(Vectorize(images)))`` for one image or a batch (uint8, RGB or grayscale).

    Returns uint8 ``out_size`` x ``out_size`` images with the input's channel layout (an empty batch too).
    """
    if not isinstance(key, OPEKey):
        raise InputError(f"de-identification key: expected an OPEKey, got {type(key).__name__}")
    return pipeline(images, key, settings, outputs=("deid",), workers=workers, progress=progress)["deid"]


def vector_images(
    images: np.ndarray, settings: Settings = Settings(), *, workers: int = 1, progress: bool = False
) -> np.ndarray:
    """``Rasterize(Vectorize(images))``: the traced images without OPE (the paper's "vectorized image")."""
    return pipeline(images, None, settings, outputs=("vector",), workers=workers, progress=progress, desc="vectorize")[
        "vector"
    ]
