"""Ko et al.'s indices equal scikit-image's SSIM and the paper's equations."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from ppstudy import InputError
from ppstudy import metrics as M


@pytest.fixture(scope="module")
def imgs():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (4, 20, 20, 3), dtype=np.uint8)
    y = np.clip(x.astype(int) + rng.integers(-40, 40, x.shape), 0, 255).astype(np.uint8)
    z = rng.integers(0, 256, x.shape, dtype=np.uint8)
    return x, y, z


def test_ssim_equals_skimage_rgb_and_gray(imgs):
    x, y, _ = imgs
    ref = [structural_similarity(a, b, data_range=255, channel_axis=-1) for a, b in zip(x, y, strict=True)]
    np.testing.assert_allclose(M.ssim_images(x, y), ref, rtol=0, atol=1e-12)
    g, h = x[..., 0], y[..., 0]
    ref = [structural_similarity(a, b, data_range=255) for a, b in zip(g, h, strict=True)]
    np.testing.assert_allclose(M.ssim_images(g, h), ref, atol=1e-12)
    np.testing.assert_allclose(M.ssim_images(g[..., None], h[..., None]), ref, atol=1e-12)
    assert M.ssim_images(x[0], y[0]).shape == (1,)
    np.testing.assert_allclose(M.ssim_images(x, x), 1.0, atol=1e-12)


def test_l2norm(imgs):
    x, y, _ = imgs
    ref = [np.linalg.norm((a.astype(float) - b) / 255) / np.sqrt(a.size) for a, b in zip(x, y, strict=True)]
    np.testing.assert_allclose(M.l2norm_images(x, y), ref, atol=1e-12)
    assert M.l2norm_images(np.zeros((8, 8), np.uint8), np.full((8, 8), 255, np.uint8))[0] == pytest.approx(1.0)


def test_batched_ssim_equals_skimage_at_224_and_edge_cases():
    # the batched valid-window computation against skimage, image by image, on the size Table 2 uses
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (6, 224, 224, 3), dtype=np.uint8)
    y = np.clip(x.astype(int) + rng.integers(-90, 90, x.shape), 0, 255).astype(np.uint8)
    y[1] = x[1]  # identical
    x[2], y[2] = 0, 255  # constant against constant
    x[3] = 128  # constant reference
    y[4] = 255 - x[4]  # anti-correlated
    x[5] = np.kron(rng.integers(0, 256, (28, 28, 3)), np.ones((8, 8, 1))).astype(np.uint8)  # blocky
    ref = [structural_similarity(a, b, data_range=255, channel_axis=-1) for a, b in zip(x, y, strict=True)]
    np.testing.assert_allclose(M.ssim_images(x, y), ref, rtol=0, atol=1e-9)
    for chunk in (1, 4):
        a, b = M.ssim_many(x, [y, x], chunk=chunk)
        np.testing.assert_allclose(a, ref, rtol=0, atol=1e-9)
        np.testing.assert_allclose(b, 1.0, atol=1e-12)
    # odd sizes and the smallest image skimage accepts, gray
    for shape in ((7, 7), (9, 31), (50, 23)):
        g = rng.integers(0, 256, (3, *shape), dtype=np.uint8)
        h = rng.integers(0, 256, (3, *shape), dtype=np.uint8)
        np.testing.assert_allclose(
            M.ssim_images(g, h),
            [structural_similarity(a, b, data_range=255) for a, b in zip(g, h, strict=True)],
            rtol=0,
            atol=1e-9,
        )


def test_equations_reproduce_paper_table2_row_32():
    # Table 2, 32x32: SSIM_Vec 0.6673, SSIM_Dei 0.3477, L2 0.2949 -> SSIM_Pos -0.3196, DI 0.32130, SDIM 0.00170
    pos = M.ssim_pos(0.3477, 0.6673)
    d = M.di(0.3477, 0.2949, 0.5)
    assert pos == pytest.approx(-0.3196, abs=1e-9)
    assert d == pytest.approx(0.32130, abs=1e-9)
    assert M.sdim(pos, d) == pytest.approx(0.00170, abs=1e-9)


def test_deid_indices(imgs):
    x, y, z = imgs
    r = M.deid_indices(x, y, z, alpha=0.3)
    assert r["SSIM_vec"] == pytest.approx(M.ssim_images(x, y).mean(), abs=1e-12)
    assert r["SSIM_dei"] == pytest.approx(M.ssim_images(x, z).mean(), abs=1e-12)
    assert r["SSIM_pos"] == pytest.approx(r["SSIM_dei"] - r["SSIM_vec"], abs=1e-12)
    assert r["DI"] == pytest.approx(0.3 * r["SSIM_dei"] + 0.7 * r["L2norm_dei"], abs=1e-12)
    assert r["SDIM"] == pytest.approx(r["SSIM_pos"] + r["DI"], abs=1e-12)
    assert r["n"] == 4


def test_per_image_values_give_the_same_indices(imgs):
    x, y, z = imgs
    p = M.deid_per_image(x, y, z)
    assert {k: len(v) for k, v in p.items()} == {"SSIM_vec": 4, "SSIM_dei": 4, "L2norm_dei": 4}
    halves = {k: np.concatenate([v[:2], v[2:]]) for k, v in p.items()}  # as a resumed run stores them
    assert M.deid_indices_from(halves, 0.3) == M.deid_indices(x, y, z, alpha=0.3)
    with pytest.raises(InputError, match="at least one"):
        M.deid_indices_from({"SSIM_vec": [], "SSIM_dei": [], "L2norm_dei": []})


def test_bad_input(imgs):
    x, y, _ = imgs
    with pytest.raises(InputError, match="do not match"):
        M.ssim_images(x, y[:, :10])
    with pytest.raises(InputError, match="uint8"):
        M.l2norm_images(x, y.astype(float))
    with pytest.raises(InputError, match="7x7"):
        M.ssim_images(x[:, :5, :5], y[:, :5, :5])
    with pytest.raises(InputError, match="alpha"):
        M.di(0.1, 0.2, 1.5)
