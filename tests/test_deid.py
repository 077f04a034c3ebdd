"""Structural de-identification: the three steps, determinism, RGB and gray, clear errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ppstudy import InputError
from ppstudy.ciphers import deid, ope

KEY = ope.OPEKey(b"deid-test-key-0123456789", (-500, 500), (-5000, 5000))
S = deid.Settings(size=24, out_size=48)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PPSTUDY_DATA", str(tmp_path))


@pytest.fixture(scope="module")
def images():
    from skimage import data

    rgb = data.astronaut()[::16, ::16][:32, :32]
    gray = data.camera()[::16, ::16][:32, :32]
    return rgb, gray


def _coords(svg):
    out = []
    for d in re.findall(r' d="([^"]*)"', svg):
        out += [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return np.array(out)


def test_pos_ope_is_algorithm2(images):
    rgb, _ = images
    svg = deid.vectorize(rgb, S)
    enc = deid.pos_ope(svg, KEY)
    # width/height = Enc(size) - Enc(0)
    w = int(ope.encrypt(S.size, KEY) - ope.encrypt(0, KEY))
    assert f'width="{w}"' in enc and f'height="{w}"' in enc
    # colours untouched, same number of paths, translate folded in
    assert re.findall(r'fill="([^"]+)"', svg) == re.findall(r'fill="([^"]+)"', enc)
    assert "transform" not in enc
    # every coordinate is f(absolute coordinate) with f = Enc - offset (monotone extension)
    root = deid._parse(svg)
    absolute = np.concatenate([deid._path_numbers(el, i)[1] for i, el in enumerate(deid._paths(root))]).ravel()
    expected = ope.encrypt_real(absolute, KEY) - ope.encrypt(0, KEY)
    np.testing.assert_allclose(_coords(enc), expected, atol=1e-3)
    # order preserved on integer coordinates
    ints = absolute == np.round(absolute)
    a, e = absolute[ints], expected[ints]
    assert np.array_equal(np.sign(np.subtract.outer(a, a)), np.sign(np.subtract.outer(e, e)))


def test_deterministic_rgb_and_gray_shapes(images):
    rgb, gray = images
    a = deid.deidentify(rgb, KEY, S)
    assert a.shape == (48, 48, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, deid.deidentify(rgb, KEY, S))
    g = deid.deidentify(gray, KEY, S)
    assert g.shape == (48, 48) and g.dtype == np.uint8
    gb = deid.deidentify(np.stack([gray, gray])[..., None], KEY, S)
    assert gb.shape == (2, 48, 48, 1)
    np.testing.assert_array_equal(gb[0, ..., 0], g)
    other = ope.OPEKey(b"another-key-0123456789ab", (-500, 500), (-5000, 5000))
    assert not np.array_equal(deid.deidentify(rgb, other, S), a)


def test_batch_and_workers_agree(images):
    rgb, _ = images
    batch = np.stack([rgb, rgb[::-1], rgb[:, ::-1]] * 4)
    one = deid.deidentify(batch, KEY, S)
    two = deid.deidentify(batch, KEY, S, workers=2)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one[1], deid.deidentify(rgb[::-1].copy(), KEY, S))


def test_identity_key_gives_vector_image(images):
    rgb, _ = images
    ident = ope.OPEKey(b"identity-key-0123456789a", (-500, 500), (-500, 500))  # equal ranges: Enc(p) = p
    np.testing.assert_array_equal(deid.deidentify(rgb, ident, S), deid.vector_images(rgb, S))


def test_rasterize_density_and_sizes(images):
    rgb, _ = images
    svg = deid.pos_ope(deid.vectorize(rgb, S), KEY)
    a = deid.rasterize(svg, 32)
    b = deid.rasterize(svg, 32, density=288)
    assert a.shape == b.shape == (32, 32, 3)
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 40


@pytest.mark.parametrize("svg, match", [
    ("<svg width='10' height='10'><path d='M0 0 L1", "malformed"),
    ("<html/>", "not <svg>"),
    ("<svg height='10'><path d='M0 0'/></svg>", "no width"),
    ("<svg width='-3' height='10'/>", "positive"),
    ("<svg width='10' height='10'><path d='m0 0 l1 1'/></svg>", "command 'm'"),
    ("<svg width='10' height='10'><path d='M0 0 L1'/></svg>", "odd number"),
    ("<svg width='10' height='10'><path d='M0 0 L1 1 #'/></svg>", "not path data"),
    ("<svg width='10' height='10'><path d='M0 0' transform='rotate(3)'/></svg>", "translate"),
    ("<svg width='10' height='10'><path d='M0 0 L900 1'/></svg>", "outside"),
    (b"<svg/>", "string"),
])
def test_malformed_svg(svg, match):
    with pytest.raises(InputError, match=match):
        deid.pos_ope(svg, KEY)


def test_bad_inputs(images):
    rgb, _ = images
    with pytest.raises(InputError, match="OPEKey"):
        deid.deidentify(rgb, "key", S)
    with pytest.raises(InputError, match="OPEKey"):
        deid.pos_ope("<svg width='1' height='1'/>", b"k" * 20)
    with pytest.raises(InputError, match="uint8"):
        deid.deidentify(rgb.astype(float), KEY, S)
    with pytest.raises(InputError, match="shape"):
        deid.deidentify(np.zeros((2, 8, 8, 4), np.uint8), KEY, S)
    with pytest.raises(InputError, match="out_size"):
        deid.Settings(out_size=0)
    with pytest.raises(InputError, match="mode"):
        deid.Settings(mode="pixel")
    with pytest.raises(InputError, match="out_size"):
        deid.rasterize("<svg width='1' height='1'/>", 2)
    with pytest.raises(InputError, match="Settings"):
        deid.vector_images(rgb, settings={"size": 3})
