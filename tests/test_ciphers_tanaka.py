"""Tanaka's learnable encryption: exact round trips, the per-block definition, key space, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ppstudy import InputError
from ppstudy.ciphers import tanaka


@settings(max_examples=30, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 3),
    bh=st.integers(1, 3),
    bw=st.integers(1, 3),
    block=st.sampled_from([1, 2, 4]),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip(data, n, bh, bw, block, seed):
    shape = (bh * block, bw * block, 3)
    x = data.draw(arrays(np.uint8, (n, *shape)))
    k = tanaka.keygen(shape, block, seed=seed)
    y = tanaka.encrypt(x, k)
    assert y.shape == (n, shape[0], shape[1], 6) and y.max(initial=0) <= 15
    assert np.array_equal(tanaka.decrypt(y, k), x)
    assert np.array_equal(tanaka.decrypt(tanaka.encrypt(x[0], k), k), x[0])


def test_definition_block_by_block():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (2, 8, 12, 3), dtype=np.uint8)
    k = tanaka.keygen((8, 12, 3), 4, seed=2)
    y = tanaka.encrypt(x, k)
    s = np.concatenate([x >> 4, x & 15], axis=-1)
    for bi in range(2):
        for bj in range(3):
            blk = s[:, bi * 4 : (bi + 1) * 4, bj * 4 : (bj + 1) * 4].reshape(2, 96)  # (row, col, channel)
            want = np.where(k.reverse, 15 - blk[:, k.perm], blk[:, k.perm])
            got = y[:, bi * 4 : (bi + 1) * 4, bj * 4 : (bj + 1) * 4].reshape(2, 96)
            assert np.array_equal(got, want)


def test_key_space():
    assert tanaka.key_space((32, 32, 3), block=4, exact=True).count == math.factorial(96) * 2**96
    assert math.isclose(tanaka.key_space((32, 32, 3), block=4).bits, math.log2(math.factorial(96)) + 96)
    with pytest.raises(InputError, match="divisible"):
        tanaka.key_space((30, 32, 3), block=4)


def test_torch_transform_equals_numpy():
    x = np.random.default_rng(3).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    k = tanaka.keygen((8, 8, 3), seed=3)
    y = k.torch_transform()(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
    assert np.array_equal(y, tanaka.encrypt(x, k))


def test_bad_input():
    k = tanaka.keygen((8, 8, 3), seed=0)
    with pytest.raises(InputError, match="divisible"):
        tanaka.keygen((6, 8, 3), 4)
    with pytest.raises(InputError, match="block size"):
        tanaka.keygen((8, 8, 3), 0)
    with pytest.raises(InputError, match="does not fit"):
        tanaka.encrypt(np.zeros((8, 8, 6), np.uint8), k)
    with pytest.raises(InputError, match="above 15"):
        tanaka.decrypt(np.full((8, 8, 6), 16, np.uint8), k)
    with pytest.raises(InputError, match="uint8"):
        tanaka.encrypt(np.zeros((8, 8, 3), np.int16), k)
    with pytest.raises(InputError, match="permutation"):
        tanaka.TanakaKey((4, 4, 3), 4, np.zeros(96, int), np.zeros(96, bool))
