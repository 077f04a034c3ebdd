"""Attacks on structural de-identification: order leaks through a leaked SVG; raster resize-back."""

from __future__ import annotations

import numpy as np
import pytest
from tracers import tracer_missing

from ppstudy import InputError
from ppstudy import metrics as M
from ppstudy.attacks import ope as A
from ppstudy.ciphers import deid, imagetracer, ope

KEY = ope.OPEKey(b"attack-test-key-01234567", (-500, 500), (-5000, 5000))
LIB_DIR = imagetracer.install_dir()


TRACERS = [
    pytest.param(
        "imagetracer",
        marks=pytest.mark.skipif(tracer_missing() is not None, reason=f"imagetracerjs: {tracer_missing()}"),
    ),
    "vtracer",
]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PPSTUDY_DATA", str(tmp_path))
    monkeypatch.setenv(imagetracer.DIR_ENV, str(LIB_DIR))


@pytest.fixture(scope="module")
def rgb():
    from skimage import data

    return np.stack([deid.resize(data.astronaut(), 32), deid.resize(data.chelsea(), 32)])


def test_rank_inversion_exact_for_polygon_trace(rgb):
    s = deid.Settings(size=24, out_size=48, tracer="vtracer", mode="polygon", path_precision=0)
    r = A.svg_leak_attack(rgb, KEY, s, method="rank")
    # polygon vertices are pixel corners: whenever every integer 0..size occurs, ranks give them back
    assert r["coord_exact"] > 0.95
    vec = deid.vector_images(rgb, s)
    assert M.ssim_images(vec, r["images"]).mean() > 0.9


@pytest.mark.parametrize("tracer", TRACERS)
def test_rank_and_linear_inversions_beat_deidentified(rgb, tracer):
    s = deid.Settings(size=24, out_size=48, tracer=tracer)
    orig = np.stack([deid.resize(deid.resize(x, 24), 48) for x in rgb])
    dei = deid.deidentify(rgb, KEY, s)
    base = M.ssim_images(orig, dei).mean()
    for method in ("rank", "linear"):
        r = A.svg_leak_attack(rgb, KEY, s, method=method)
        assert r["images"].shape == dei.shape
        assert M.ssim_images(orig, r["images"]).mean() >= base - 0.02
        assert r["coord_mae"] < 2.0


@pytest.mark.parametrize("tracer", TRACERS)
def test_invert_svg_keeps_everything_but_coordinates(rgb, tracer):
    s = deid.Settings(size=24, out_size=48, tracer=tracer)
    svg = deid.vectorize(rgb[0], s)
    enc = deid.pos_ope(svg, KEY)
    inv = A.invert_svg(enc, 24, method="linear")
    t, e = deid.parse_svg(inv), deid.parse_svg(enc)
    assert (t.width, t.height) == (24, 24) and [p.get("fill") for p in t.paths] == [p.get("fill") for p in e.paths]
    f = float(ope.encrypt(24, KEY) - ope.encrypt(0, KEY))
    np.testing.assert_allclose(A.svg_coordinates(inv), np.round(e.coordinates * 24 / f, 3), atol=1e-9)


def test_invert_coordinates_rank_is_exact_on_full_grid():
    xs = np.arange(0, 31)
    f = ope.encrypt(xs, KEY) - ope.encrypt(0, KEY)
    np.testing.assert_allclose(A.invert_ope_coordinates(f, f[-1], 30), xs, atol=1e-9)
    lin = A.invert_ope_coordinates(f, f[-1], 30, method="linear")
    assert np.abs(lin - xs).max() < 30


def test_resize_back_shapes(rgb):
    s = deid.Settings(size=24, out_size=48, tracer="vtracer")
    dei = deid.deidentify(rgb, KEY, s)
    assert A.resize_back(dei, 24).shape == dei.shape
    assert A.resize_back(dei[0], 24).shape == dei[0].shape
    g = dei[..., :1]
    assert A.resize_back(g, 24).shape == g.shape


def test_ope_warp():
    w = A.ope_warp(KEY, 50, 224)
    assert w["landed"][0] == 0 and w["landed"][-1] == pytest.approx(224)
    assert np.all(np.diff(w["landed"]) > 0)
    assert w["max_dev_px"] >= w["mean_dev_px"] >= 0


def test_bad_input():
    with pytest.raises(InputError, match="method"):
        A.invert_ope_coordinates([1.0], 10, 5, method="sort")
    with pytest.raises(InputError, match="size"):
        A.invert_svg("<svg width='3' height='3'/>", 0)
    with pytest.raises(InputError, match="malformed"):
        A.invert_svg("<svg", 3)
    with pytest.raises(InputError, match="uint8"):
        A.resize_back(np.zeros((4, 8, 8)), 4)
