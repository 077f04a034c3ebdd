"""The extended jigsaw solver: exact on trivial puzzles, near-exact on smooth images, consistent with the key."""

from __future__ import annotations

import numpy as np
import pytest

from ppstudy import InputError
from ppstudy.attacks import blocks as B
from ppstudy.attacks import jigsaw
from ppstudy.ciphers import etc


def scenes(n: int, size: int, seed: int) -> np.ndarray:
    """Smooth colour images with a fixed orientation: brighter towards the bottom, red to the left, blue to
    the right, and random waves on top (so that no symmetry or colour change of one looks like another)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, size, size, 3))
    for i in range(n):
        waves = sum(
            rng.uniform(10, 25) * np.cos(2 * np.pi * (rng.uniform(-1.5, 1.5) * yy + rng.uniform(-1.5, 1.5) * xx) + p)
            for p in rng.uniform(0, 6, 3)
        )
        lum = 50 + 120 * yy + waves
        out[i, ..., 0] = lum + 60 * (1 - xx)
        out[i, ..., 1] = lum + 10
        out[i, ..., 2] = lum * 0.6 + 70 * xx
    return np.clip(np.rint(out + rng.normal(0, 1.0, out.shape)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def prior():
    return jigsaw.JigsawPrior.fit(scenes(200, 32, seed=99))


def test_blocks_follow_the_cipher():
    # the attacks' blocks, symmetries and colour transforms are the cipher's: the key's truth renders plain
    x = scenes(2, 16, seed=1)
    for grayscale in (False, True):
        key = etc.keygen(x.shape[1:], 4, seed=2, grayscale=grayscale)
        y = etc.encrypt(x, key)
        group = B.colour_group(y.shape[-1])
        rows, cols = y.shape[1] // 4, y.shape[2] // 4
        shown = jigsaw._render(B.to_blocks(y, 4), jigsaw.truth(key, group), group, rows, cols)
        assert np.array_equal(shown, jigsaw.work_layout(x, grayscale))
        assert np.array_equal(jigsaw.plain_layout(jigsaw.work_layout(x, True), 3), x)


def test_one_block_is_exact():
    x = scenes(1, 16, seed=3)
    key = etc.keygen(x.shape[1:], 16, seed=4, steps=("scramble",))
    sol = jigsaw.solve(etc.encrypt(x, key), block=16, rotations=False, shuffle=False, negpos=False)
    assert np.array_equal(sol.images, x)
    s = jigsaw.score(sol, x, key)
    assert s["direct"] == s["neighbour"] == s["key_cells"] == 1.0


def test_scrambled_ramp_is_exact():
    # a ramp that rises along rows and columns: only one order of its blocks is smooth
    yy, xx = np.mgrid[0:32, 0:32]
    x = np.stack([4 * yy + 3, 3 * xx + 10, 2 * (yy + xx) + 5], -1).clip(0, 255).astype(np.uint8)[None]
    key = etc.keygen(x.shape[1:], 8, seed=5, steps=("scramble",))
    sol = jigsaw.solve(etc.encrypt(x, key), block=8, rotations=False, shuffle=False, negpos=False)
    assert np.array_equal(sol.images, x)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_smooth_image_under_every_step(prior, seed):
    x = scenes(1, 32, seed=100 + seed)
    key = etc.keygen(x.shape[1:], 8, seed=seed)
    sol = jigsaw.solve(etc.encrypt(x, key), block=8, prior=prior)
    s = jigsaw.score(sol, x, key)
    assert s["neighbour"] >= 0.9 and s["direct"] >= 0.9
    assert s["direct_up_to_mirror"] >= s["direct"]


def test_one_key_for_several_images(prior):
    # three images under one key: the evidence adds up to the whole key (4x4 blocks, 64 pieces)
    x = scenes(3, 32, seed=200)
    key = etc.keygen(x.shape[1:], 4, seed=7)
    y = etc.encrypt(x, key)
    sol = jigsaw.solve(y, block=4, prior=prior)
    s = jigsaw.score(sol, x, key)
    assert s["neighbour"] >= 0.9 and s["key_cells"] >= 0.9
    est = jigsaw.key_estimate(sol, x.shape[1:])
    assert np.array_equal(etc.decrypt(y, est), sol.images)  # the estimate decrypts to what was solved


def test_without_a_prior_the_global_pose_is_left_open():
    x = scenes(1, 32, seed=300)
    key = etc.keygen(x.shape[1:], 8, seed=8)
    sol = jigsaw.solve(etc.encrypt(x, key), block=8)
    assert jigsaw.score(sol, x, key)["neighbour"] >= 0.9
    assert np.isneginf(sol.global_scores).all()


def test_grayscale_based_layout():
    x = scenes(2, 16, seed=9)
    key = etc.keygen(x.shape[1:], 8, seed=10, grayscale=True)
    sol = jigsaw.solve(etc.encrypt(x, key), block=8, grayscale=True)
    assert sol.images.shape == x.shape and sol.work_images.shape == (2, 16, 48, 1)
    s = jigsaw.score(sol, x, key)
    assert 0.0 <= s["direct"] <= 1.0 and 0.0 <= s["neighbour"] <= 1.0


def test_bad_input():
    with pytest.raises(InputError):
        jigsaw.solve(np.zeros((1, 10, 10, 3), np.uint8), block=4)
    with pytest.raises(InputError):
        jigsaw.solve(np.zeros((10, 10), np.float32), block=5)
    with pytest.raises(InputError):
        jigsaw.JigsawPrior.fit(np.zeros((0, 8, 8, 3), np.uint8))


def test_pair_costs_are_the_dissimilarity_of_the_shown_blocks():
    # every way the solver looks up a pair (any side, symmetry and colour of either block) gives the
    # dissimilarity of the two blocks as they are shown, measured afresh with no transform at all
    rng = np.random.default_rng(11)
    pieces = B.to_blocks(scenes(1, 16, seed=12), 4)  # 1 x 16 x 4 x 4 x 3
    group = B.colour_group(3)
    D, syms, _ = jigsaw.dissimilarity(pieces, rotations=True, group=group)
    solver = jigsaw._Solver(D, syms, group, 16, 4, 4)
    plain = B.colour_group(3, shuffle=False, negpos=False)
    for _ in range(40):
        a, q = rng.choice(16, 2, replace=False)
        sa, sq = rng.integers(0, 8, 2)
        ca, cq = rng.integers(0, group.size, 2)
        disp = [(0, 1), (1, 0), (0, -1), (-1, 0)][rng.integers(4)]
        shown_a = group.apply(B.symmetry(pieces[:, a], sa), ca)
        shown_q = group.apply(B.symmetry(pieces[:, q], sq), cq)
        first, second = (shown_a, shown_q) if disp in ((0, 1), (1, 0)) else (shown_q, shown_a)
        fresh, _, _ = jigsaw.dissimilarity(np.stack([first, second], 1), rotations=False, group=plain)
        want = fresh[0 if disp[0] == 0 else 1, 0, 1]
        assert solver.pair_cost(a, sa, ca, q, sq, cq, disp) == pytest.approx(want)
        assert solver.costs(a, sa, ca, disp)[q, sq, cq] == pytest.approx(want)
