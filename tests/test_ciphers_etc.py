"""EtC block-scrambling cipher: exact round trips, what each step does, orthogonality, key space, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppstudy import InputError
from ppstudy.ciphers import etc


@st.composite
def cases(draw):
    block = draw(st.sampled_from([1, 2, 3, 4, 8]))
    h = block * draw(st.integers(1, 4))
    w = block * draw(st.integers(1, 4))
    c = draw(st.sampled_from([1, 2, 3]))
    steps = tuple(s for s in etc.STEPS if draw(st.booleans()))
    grayscale = draw(st.booleans())
    n = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    return block, (h, w, c), steps, grayscale, n, seed


@settings(max_examples=120, deadline=None)
@given(cases())
def test_round_trip_every_step_combination(case):
    block, shape, steps, grayscale, n, seed = case
    key = etc.keygen(shape, block, seed=seed, steps=steps, grayscale=grayscale)
    x = np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)
    y = etc.encrypt(x, key)
    assert y.shape == (n, *key.cipher_shape) and y.dtype == np.uint8
    assert np.array_equal(etc.decrypt(y, key), x)
    # one image at a time gives the same as the batch
    assert np.array_equal(etc.encrypt(x[0], key), y[0])
    assert np.array_equal(etc.decrypt(y[0], key), x[0])

    # the cipher is a permutation plus neg-pos: the multiset of min(v, 255-v) is kept
    def fold(a):
        return np.sort(np.minimum(a, 255 - a).reshape(n, -1), axis=1)

    assert np.array_equal(fold(x), fold(y))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(0, 1000))
def test_channelless_grayscale_batches(nb, n, seed):
    key = etc.keygen((8 * nb, 16), 8, seed=seed)
    x = np.random.default_rng(seed).integers(0, 256, (n, 8 * nb, 16), dtype=np.uint8)
    y = etc.encrypt(x, key)
    assert y.shape == x.shape
    assert np.array_equal(y[..., None], etc.encrypt(x[..., None], key))
    assert np.array_equal(etc.decrypt(y, key), x)
    assert np.array_equal(etc.decrypt(y[0], key), x[0])


def _one_block_key(shape, **params):
    h, w, c = shape
    n = 1
    p = dict(scramble=np.arange(n), rotation=np.zeros(n), negpos=np.zeros(n, bool), shuffle=np.arange(c)[None])
    p.update(params)
    return etc.EtCKey(shape, h, etc.STEPS, False, **p)


@pytest.mark.parametrize("k", range(8))
def test_rotation_is_the_symmetry_of_the_square(k):
    x = np.arange(16, dtype=np.uint8).reshape(4, 4, 1)
    key = _one_block_key((4, 4, 1), rotation=np.array([k]))
    want = np.rot90(x, k % 4, axes=(0, 1))
    if k >= 4:
        want = want[:, ::-1]
    assert np.array_equal(etc.encrypt(x, key), want)


def test_steps_do_what_they_say():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (8, 12, 3), dtype=np.uint8)

    def blocks(a):
        return a.reshape(2, 4, 3, 4, 3).transpose(0, 2, 1, 3, 4).reshape(6, 4, 4, 3)

    key = etc.keygen(x.shape, 4, seed=3)
    y = blocks(etc.encrypt(x, key.restricted(["scramble"])))
    assert np.array_equal(y, blocks(x)[key.scramble])
    y = blocks(etc.encrypt(x, key.restricted(["negpos"])))
    neg = key.negpos
    assert neg.any() and (~neg).any()
    assert np.array_equal(y[neg], 255 - blocks(x)[neg]) and np.array_equal(y[~neg], blocks(x)[~neg])
    y = blocks(etc.encrypt(x, key.restricted(["shuffle"])))
    for j in range(6):
        assert np.array_equal(y[j], blocks(x)[j][..., key.shuffle[j]])


def test_grayscale_based_lays_channels_side_by_side():
    x = np.random.default_rng(1).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    key = etc.keygen((8, 8, 3), 4, steps=(), grayscale=True)
    g = etc.encrypt(x, key)
    assert g.shape == (2, 8, 24, 1) and key.n_blocks == 12
    for c in range(3):
        assert np.array_equal(g[:, :, 8 * c : 8 * (c + 1), 0], x[..., c])
    # with scrambling, blocks move between the channels' thirds
    full = etc.keygen((8, 8, 3), 4, seed=5, steps=("scramble",), grayscale=True)
    assert ((full.scramble // 2) % 3 != (np.arange(12) // 2) % 3).any()


@settings(max_examples=30, deadline=None)
@given(cases())
def test_explicit_map_and_orthogonality(case):
    block, shape, steps, grayscale, n, seed = case
    key = etc.keygen(shape, block, seed=seed, steps=steps, grayscale=grayscale)
    x = np.random.default_rng(seed).integers(0, 256, (2, *shape), dtype=np.uint8)
    y = etc.encrypt(x, key).reshape(2, -1).astype(float)
    xf = x.reshape(2, -1).astype(float)
    q, b = etc.affine(key)
    assert np.array_equal(y[0], q @ xf[0] + b) and np.array_equal(y[1], q @ xf[1] + b)
    assert abs(q @ q.T - np.eye(q.shape[0])).max() == 0
    perm, flip = etc.permutation(key)
    assert np.array_equal(np.sort(perm), np.arange(perm.size))
    assert np.array_equal(y[0], np.where(flip, 255 - xf[0][perm], xf[0][perm]))
    # the permutation steps alone preserve inner products and distances
    p = etc.encrypt(x, key.restricted([s for s in steps if s != "negpos"])).reshape(2, -1).astype(float)
    assert abs(p[0] @ p[1] - xf[0] @ xf[1]) <= 1e-9
    assert abs(np.linalg.norm(p[0] - p[1]) - np.linalg.norm(xf[0] - xf[1])) <= 1e-9
    # the linear part of the full cipher does too; removing the offset by centring recovers the plain value
    assert abs((q @ xf[0]) @ (q @ xf[1]) - xf[0] @ xf[1]) <= 1e-9
    assert abs(np.linalg.norm(y[0] - y[1]) - np.linalg.norm(xf[0] - xf[1])) <= 1e-9


def _distinct_ciphers(shape, block, grayscale, steps):
    """Brute force: every key parameter combination, counted by the distinct (gather, mask) maps."""
    ws = etc.work_shape(shape, grayscale)
    n = (ws[0] // block) * (ws[1] // block)
    c = ws[2]
    opts = {
        "scramble": list(itertools.permutations(range(n))) if "scramble" in steps else [tuple(range(n))],
        "rotation": list(itertools.product(range(8), repeat=n)) if "rotate" in steps else [(0,) * n],
        "negpos": list(itertools.product([False, True], repeat=n)) if "negpos" in steps else [(False,) * n],
        "shuffle": list(itertools.product(itertools.permutations(range(c)), repeat=n))
        if "shuffle" in steps
        else [(tuple(range(c)),) * n],
    }
    seen = set()
    for s, r, g, f in itertools.product(*opts.values()):
        k = etc.EtCKey(shape, block, steps, grayscale, np.array(s), np.array(r), np.array(g), np.array(f))
        seen.add((k.gather.tobytes(), k.mask.tobytes()))
    return len(seen)


@pytest.mark.parametrize(
    "shape,block,grayscale,steps",
    [
        ((2, 4, 2), 2, False, etc.STEPS),
        ((2, 2, 2), 2, True, etc.STEPS),
        ((2, 4, 3), 2, False, ("scramble", "shuffle")),
        ((3, 3, 1), 3, False, ("rotate", "negpos")),
        ((1, 3, 1), 1, False, etc.STEPS),
    ],
)
def test_key_space_formula_matches_brute_force(shape, block, grayscale, steps):
    ks = etc.key_space(shape, block, steps=steps, grayscale=grayscale, exact=True)
    assert ks.count == _distinct_ciphers(shape, block, grayscale, steps)
    assert ks.bits == pytest.approx(etc.key_space(shape, block, steps=steps, grayscale=grayscale).bits, abs=1e-9)


def test_key_space_of_the_paper_images():
    n = 24 * 20  # 192x160 in 8x8 blocks
    import math

    assert etc.key_space((192, 160), 8, exact=True).count == math.factorial(n) * 8**n * 2**n
    assert abs(etc.key_space((192, 160), 8).bits - math.log2(math.factorial(n)) - 4 * n) < 1e-6
    assert etc.key_space((32, 32, 3), 4, grayscale=True, exact=True).count == math.factorial(192) * 16**192


def test_key_space_of_a_huge_image_is_fast_and_right():
    # 4096 x 4096 x 3 in 1x1 blocks: n = 2**24 blocks; log-gamma instead of the integer n! (issue: > 5 min)
    import math

    n = 4096 * 4096
    ks = etc.key_space((4096, 4096, 3), 1)
    assert ks.count is None
    want = math.lgamma(n + 1) / math.log(2) + n + n * math.log2(6)
    assert ks.bits == pytest.approx(want, rel=1e-12)


def test_key_conditions():
    shape = (16, 16, 3)
    k1 = etc.condition_keys(1, ["a", "b", "c"], shape, 8, seed=1)
    assert k1["a"] is k1["b"] is k1["c"]
    k2 = etc.condition_keys(2, ["a", "b", "c"], shape, 8, seed=1)
    assert len({k.gather.tobytes() + k.mask.tobytes() for k in k2.values()}) == 3
    again = etc.condition_keys(2, ["a", "b", "c"], shape, 8, seed=1)
    assert all(np.array_equal(k2[c].gather, again[c].gather) for c in k2)
    x = np.random.default_rng(0).integers(0, 256, (6, *shape), dtype=np.uint8)
    owners = np.array(["a", "b", "c", "a", "b", "c"])
    y = etc.encrypt_groups(x, owners, k2)
    for i, o in enumerate(owners):
        assert np.array_equal(y[i], etc.encrypt(x[i], k2[o]))
    with pytest.raises(InputError, match="condition"):
        etc.condition_keys(3, ["a"], shape, 8)
    with pytest.raises(InputError, match="no key"):
        etc.encrypt_groups(x, ["z"] * 6, k2)


def test_seeded_keys_are_reproducible_and_unseeded_differ():
    a, b = etc.keygen((16, 16, 3), 4, seed=7), etc.keygen((16, 16, 3), 4, seed=7)
    assert np.array_equal(a.gather, b.gather) and np.array_equal(a.mask, b.mask)
    c, d = etc.keygen((16, 16, 3), 4), etc.keygen((16, 16, 3), 4)
    assert not np.array_equal(c.gather, d.gather)
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        a.block = 2  # frozen


def test_bad_inputs():
    key = etc.keygen((16, 16, 3), 8, seed=0)
    x = np.zeros((2, 16, 16, 3), np.uint8)
    with pytest.raises(InputError, match="uint8"):
        etc.encrypt(x.astype(np.float32), key)
    with pytest.raises(InputError, match="numpy array"):
        etc.encrypt(x.tolist(), key)
    with pytest.raises(InputError, match=r"does not fit the key.*\(16, 16, 3\)"):
        etc.encrypt(np.zeros((2, 24, 16, 3), np.uint8), key)
    with pytest.raises(InputError, match="does not fit the key"):
        etc.decrypt(np.zeros((2, 16, 16, 1), np.uint8), key)
    with pytest.raises(InputError, match="not divisible into 8x8 blocks"):
        etc.keygen((20, 16, 3), 8)
    with pytest.raises(InputError, match="block size"):
        etc.keygen((16, 16, 3), 0)
    with pytest.raises(InputError, match="block size"):
        etc.keygen((16, 16, 3), 2.0)
    with pytest.raises(InputError, match="unknown EtC step"):
        etc.keygen((16, 16, 3), 8, steps=("scramble", "xor"))
    with pytest.raises(InputError, match="image shape"):
        etc.keygen((2, 16, 16, 3), 8)
    with pytest.raises(InputError, match="EtCKey"):
        etc.encrypt(x, "secret")
    gkey = etc.keygen((16, 16, 3), 8, seed=0, grayscale=True)
    with pytest.raises(InputError, match=r"\(16, 48, 1\)"):
        etc.decrypt(x, gkey)
    with pytest.raises(InputError, match="permutation"):
        etc.EtCKey((16, 16, 1), 8, etc.STEPS, False, np.zeros(4), np.zeros(4), np.zeros(4, bool), np.zeros((4, 1)))
    for bad in (-1, 1.5, "7", True):
        with pytest.raises(InputError, match="seed"):
            etc.keygen((16, 16, 3), 8, seed=bad)
