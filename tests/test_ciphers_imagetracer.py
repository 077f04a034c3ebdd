"""imagetracerjs 1.2.6 driven from Python: valid SVG of the image's own colours, its 'default' options'
behaviour, deterministic, one engine process per batch, Node == mini-racer, clear errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ppstudy import InputError
from ppstudy.ciphers import deid
from ppstudy.ciphers import imagetracer as it

LIB_DIR = it.install_dir()  # before the fixture below moves the cache


def _missing() -> str | None:
    try:
        it.library_path()
    except it.TracerUnavailableError as e:
        return str(e)
    if not it.available_engines():
        return "no JavaScript engine (Node or mini-racer) is installed"
    return None


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PPSTUDY_DATA", str(tmp_path))
    monkeypatch.setenv(it.DIR_ENV, str(LIB_DIR))


needs_tracer = pytest.mark.skipif(_missing() is not None, reason=f"imagetracerjs unavailable: {_missing()}")
ENGINES = [
    pytest.param(e, marks=pytest.mark.skipif(e not in it.available_engines(), reason=f"{e} not installed"))
    for e in it.ENGINES
]


def _two_colour():
    a = np.zeros((12, 12, 3), np.uint8)
    a[:, :6] = (255, 0, 0)
    a[:, 6:] = (0, 0, 255)
    return a


def _fills(svg):
    return re.findall(r'fill="(rgb\([^)]*\))"', svg)


@needs_tracer
@pytest.mark.parametrize("engine", ENGINES)
def test_two_colour_image_known_svg(engine):
    (svg,) = it.trace(_two_colour(), engine=engine)
    t = deid.parse_svg(svg)  # a valid SVG of paths that passes the untrusted-SVG checks
    assert (t.width, t.height) == (12, 12)
    # the palette is sampled from the image (colorsampling 2): only its two colours, each one rectangle
    assert sorted(_fills(svg)) == ["rgb(0,0,255)", "rgb(255,0,0)"]
    assert re.findall(r'stroke="([^"]*)"', svg) == _fills(svg)  # each shape stroked in its own colour
    assert re.findall(r'stroke-width="([^"]*)"', svg) == ["1", "1"]
    xy = {tuple(map(tuple, p)) for p in t.xy}
    assert xy == {((6, 0), (12, 0), (12, 12), (6, 12), (6, 0)), ((0, 0), (6, 0), (6, 12), (0, 12), (0, 0))}


@needs_tracer
def test_default_options_behaviour():
    # pathomit 8: a 1-pixel speck (4 edge points) vanishes, a 3x3 blob (12) stays
    speck = np.full((12, 12, 3), 200, np.uint8)
    speck[5, 5] = 0
    (svg,) = it.trace(speck)
    assert _fills(svg) == ["rgb(200,200,200)"]
    blob = np.full((12, 12, 3), 200, np.uint8)
    blob[4:7, 4:7] = 0
    (svg,) = it.trace(blob)
    assert sorted(_fills(svg)) == ["rgb(0,0,0)", "rgb(200,200,200)"]
    assert set(re.findall(r"[A-Za-z]", " ".join(re.findall(r' d="([^"]*)"', svg)))) <= set("MLQZ")
    # coordinates rounded to one decimal at most
    nums = re.findall(r"-?\d+(?:\.\d+)?", " ".join(re.findall(r' d="([^"]*)"', svg)))
    assert all(len(n.split(".")[1]) == 1 for n in nums if "." in n)
    # the 'default' preset is what an empty override dict gives
    assert it.trace(blob, options={}) == it.trace(blob, options="default")
    assert it.trace(blob, options={"pathomit": 0}) != it.trace(speck, options={"pathomit": 0})


@needs_tracer
def test_photograph_deterministic_batched_grey():
    from skimage import data

    imgs = np.stack([deid.resize(data.astronaut(), 40), deid.resize(data.chelsea(), 40)])
    a = it.trace(imgs)
    assert a == it.trace(imgs) and len(a) == 2
    assert a[1] == it.trace(imgs[1])[0]  # a batch is the images one by one
    for svg in a:
        t = deid.parse_svg(svg)
        c = t.coordinates  # spline control points may leave the canvas a little, nothing else does
        assert c.min() > -10 and c.max() < 50 and ((c >= 0) & (c <= 40)).mean() > 0.98
        assert 3 <= len(set(_fills(svg))) <= it.DEFAULT_OPTIONS["numberofcolors"]
    gray = deid.resize(data.camera(), 40)
    (g,) = it.trace(gray)
    assert all(len(set(re.findall(r"\d+", f))) == 1 for f in _fills(g))  # grey stays grey
    assert g == it.trace(np.repeat(gray[..., None], 3, axis=-1))[0]


@needs_tracer
def test_one_node_process_per_python_process():
    if "node" not in it.available_engines():
        pytest.skip("Node not installed")
    from skimage import data

    imgs = np.stack([deid.resize(data.astronaut()[i * 20 :], 24) for i in range(6)])
    e1 = it.engine_for("node")
    it.trace(imgs, engine="node")
    e2 = it.engine_for("node")
    assert e1 is e2 and e1.proc.poll() is None
    e1.proc.kill()
    e1.proc.wait()
    assert len(it.trace(imgs, engine="node")) == 6  # a dead process is replaced
    assert it.engine_for("node").proc.pid != e1.proc.pid


@pytest.mark.skipif(
    not set(it.ENGINES) <= set(it.available_engines()) or _missing() is not None,
    reason="needs imagetracerjs, Node and mini-racer",
)
def test_node_equals_mini_racer():
    from skimage import data

    imgs = [deid.resize(data.astronaut(), s) for s in (16, 33, 50)] + [deid.resize(data.coffee(), 50)]
    assert it.trace(imgs, engine="node") == it.trace(imgs, engine="mini_racer")


def test_missing_library_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv(it.DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(it.TracerUnavailableError, match="install_imagetracer.sh"):
        it.library_path()
    with pytest.raises(it.TracerUnavailableError, match="install_imagetracer.sh"):
        deid.vectorize(_two_colour(), deid.Settings(size=8))


def test_tampered_library_refused(tmp_path, monkeypatch):
    lib = tmp_path / "node_modules" / "imagetracerjs" / f"imagetracer_v{it.VERSION}.js"
    lib.parent.mkdir(parents=True)
    lib.write_text("module.exports = {imagedataToSVG: function(){ return '<svg/>'; }};")
    monkeypatch.setenv(it.DIR_ENV, str(tmp_path))
    with pytest.raises(it.TracerUnavailableError, match="SHA-256"):
        it.library_path()


@pytest.mark.parametrize(
    "options, match",
    [
        ("nosuchpreset", "unknown preset"),
        ({"colours": 3}, "unknown option"),
        ({"pathomit": "8"}, "number"),
        ({"viewbox": 1}, "boolean"),
        ({"qcpr": 2}, "position OPE"),
        (3, "preset name or a dict"),
    ],
)
def test_bad_options(options, match):
    with pytest.raises(InputError, match=match):
        it.check_options(options)


def test_bad_images():
    with pytest.raises(InputError, match="uint8"):
        it.trace(np.zeros((4, 4, 3)))
    with pytest.raises(InputError, match="shape"):
        it.trace([np.zeros((4, 4, 5), np.uint8)])
    with pytest.raises(InputError, match="engine"):
        it.trace(_two_colour(), engine="spidermonkey")
    assert it.trace([]) == []
