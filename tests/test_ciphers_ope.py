"""OPE lookup table: equal to pyope value by value, order preserving, invertible, clear errors."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ppstudy import InputError
from ppstudy.ciphers import ope

SMALL = ope.OPEKey(b"0123456789abcdef-small-test-key", (-300, 300), (-6000, 6000))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PPSTUDY_DATA", str(tmp_path))


def test_small_table_equals_pyope_for_every_input():
    t = ope.build_table(SMALL)
    c = ope.pyope_cipher(SMALL)
    ref = np.array([c.encrypt(p) for p in range(-300, 301)])
    np.testing.assert_array_equal(t, ref)
    assert np.all(np.diff(t) > 0)


def test_tight_ranges_equal_pyope():
    # in size close to out size: many empty right halves in the recursion
    k = ope.OPEKey(b"another-sixteen-byte-key", (0, 99), (0, 104))
    c = ope.pyope_cipher(k)
    np.testing.assert_array_equal(ope.build_table(k), [c.encrypt(p) for p in range(100)])
    k = ope.OPEKey(b"another-sixteen-byte-key", (5, 40), (5, 40))  # equal sizes: identity
    np.testing.assert_array_equal(ope.build_table(k), np.arange(5, 41))


def test_paper_key_offset_and_random_sample_equal_pyope():
    k = ope.paper_key()
    t = ope.table(k)
    assert t.shape == (19999,)
    assert int(ope.encrypt(0, k)) == ope.PAPER_OFFSET  # the paper's published offset
    c = ope.pyope_cipher(k)
    rng = np.random.default_rng(1)
    sample = np.concatenate([rng.integers(-9999, 10000, 150), [-9999, 9999, 0, 1, -1]])
    np.testing.assert_array_equal(ope.encrypt(sample, k), [c.encrypt(int(p)) for p in sample])


@pytest.mark.slow
def test_paper_table_equals_pyope_everywhere():
    k = ope.paper_key()
    c = ope.pyope_cipher(k)
    np.testing.assert_array_equal(ope.build_table(k), [c.encrypt(p) for p in range(-9999, 10000)])


def test_disk_cache_roundtrip_and_corrupt_file(tmp_path):
    k = ope.keygen(seed=3, in_range=(0, 200), out_range=(0, 4000))
    ope.clear_memory_cache()
    t1 = ope.table(k)
    path = ope.cache_path(k)
    assert path.exists() and str(path).startswith(str(tmp_path))
    ope.clear_memory_cache()
    np.testing.assert_array_equal(ope.table(k), t1)
    path.write_bytes(b"garbage")  # corrupt cache is rebuilt, not trusted
    ope.clear_memory_cache()
    with pytest.warns(RuntimeWarning, match="integrity"):
        np.testing.assert_array_equal(ope.table(k), t1)


def test_edited_cache_still_monotone_is_rebuilt():
    k = ope.keygen(seed=4, in_range=(0, 200), out_range=(0, 4000))
    ope.clear_memory_cache()
    t1 = np.array(ope.table(k))
    path = ope.cache_path(k)
    with np.load(path) as z:
        digest = str(z["digest"])
    assert digest == ope.table_digest(t1, k)
    edited = t1.copy()
    edited[10:] += 1  # still strictly increasing and inside the output range
    assert np.all(np.diff(edited) > 0) and edited[-1] <= 4000
    for forged in (digest, ope.table_digest(edited, ope.keygen(seed=5, in_range=(0, 200), out_range=(0, 4000)))):
        np.savez(path, table=edited, digest=np.array(forged))
        ope.clear_memory_cache()
        with pytest.warns(RuntimeWarning, match="integrity"):
            np.testing.assert_array_equal(ope.table(k), t1)
    ope.clear_memory_cache()
    np.testing.assert_array_equal(ope.table(k), t1)  # the rebuilt file verifies


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-300, 300), min_size=1, max_size=50))
def test_roundtrip_and_order(xs):
    x = np.array(xs)
    y = ope.encrypt(x, SMALL)
    np.testing.assert_array_equal(ope.decrypt(y, SMALL), x)
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(y[order]) >= 0)
    assert np.array_equal(np.sign(np.subtract.outer(x, x)), np.sign(np.subtract.outer(y, y)))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-300, 300, allow_nan=False), min_size=2, max_size=30))
def test_real_extension_is_monotone_and_exact_on_integers(vs):
    v = np.sort(np.array(vs))
    f = ope.encrypt_real(v, SMALL)
    assert np.all(np.diff(f) >= 0)
    ints = np.round(v)
    np.testing.assert_array_equal(ope.encrypt_real(ints, SMALL), ope.encrypt(ints.astype(int), SMALL))


def test_numpy_ints_accepted_and_seeded_keys_reproducible():
    assert ope.keygen(seed=5) == ope.keygen(seed=5)
    assert ope.keygen(seed=5) != ope.keygen(seed=6)
    assert ope.keygen().secret != ope.keygen().secret
    assert int(ope.encrypt(np.int16(7), SMALL)) == ope.pyope_cipher(SMALL).encrypt(7)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(secret="text"), "bytes"),
        (dict(secret=b"short"), "at least 16"),
        (dict(secret=b"x" * 16, in_range=(5, 1)), "greater"),
        (dict(secret=b"x" * 16, in_range=(0, 10), out_range=(0, 5)), "larger than the output"),
        (dict(secret=b"x" * 16, in_range=(0.5, 3)), "integers"),
        (dict(secret=b"x" * 16, in_range=7), "pair"),
    ],
)
def test_bad_keys(kwargs, match):
    with pytest.raises(InputError, match=match):
        ope.OPEKey(**kwargs)


def test_bad_inputs():
    with pytest.raises(InputError, match="outside"):
        ope.encrypt([301], SMALL)
    with pytest.raises(InputError, match="non-integer"):
        ope.encrypt([1.5], SMALL)
    with pytest.raises(InputError, match="not ciphertexts"):
        ope.decrypt(
            [int(ope.encrypt(0, SMALL)) + 1 if int(ope.encrypt(1, SMALL)) != int(ope.encrypt(0, SMALL)) + 1 else 10**6],
            SMALL,
        )
    with pytest.raises(InputError, match="OPEKey"):
        ope.encrypt([1], b"key")
    with pytest.raises(InputError, match="outside"):
        ope.encrypt_real([np.nan], SMALL)


@pytest.mark.parametrize(
    "value",
    [
        2**64 - 1,
        np.uint64(2**64 - 1),
        np.array([5, 2**64 - 1], np.uint64),
        2**70,
        [3, 2**63],
        1e300,
        -(2**63) - 1,
        np.array([2**63 + 5], np.uint64),
    ],
)
def test_values_that_do_not_fit_are_refused_not_wrapped(value):
    # 2**64 - 1 cast to int64 is -1, inside the range: it must be refused, not encrypted as Enc(-1)
    with pytest.raises(InputError, match="outside"):
        ope.encrypt(value, SMALL)
    with pytest.raises(InputError, match="outside"):
        ope.decrypt(value, SMALL)


def test_key_space_is_a_keyspace():
    from ppstudy.ciphers.base import KeySpace

    ks = ope.key_space()
    assert isinstance(ks, KeySpace) and ks.count == 2**256 and ks.bits == 256.0 and ks.bound
    assert ope.key_space(key_bytes=16).count == 2**128 and ope.key_space_log2(16) == 128.0
    assert ope.key_space((32, 32, 3)) == ks  # the image shape does not matter
    assert len(base64.b64decode(ope.keygen(seed=1).secret)) == 32
    with pytest.raises(InputError, match="key_bytes"):
        ope.key_space(key_bytes=0)


@pytest.mark.parametrize(
    "r",
    [(-10000, 10000), (-10000, 9999), (-9998, 9998), (-9994, 9994), (-10010, 10010), (-10150, 10150), (-10200, 10200)],
)
def test_input_ranges_that_give_the_papers_offset(r):
    # the offset -796 pins the input range down to about +-10^4, not exactly (pyope, the paper's key)
    from pyope.ope import OPE, ValueRange

    c = OPE(ope.PAPER_KEY, ValueRange(*r), ValueRange(*ope.PAPER_OUT_RANGE))
    assert c.encrypt(0) == ope.PAPER_OFFSET
    assert c.encrypt(32) - c.encrypt(0) == (331 if r[1] <= 10010 else 280)
    for other in ((-999, 999), (-32768, 32767), (-9993, 9993), (-10011, 10011)):
        assert OPE(ope.PAPER_KEY, ValueRange(*other), ValueRange(*ope.PAPER_OUT_RANGE)).encrypt(0) != ope.PAPER_OFFSET
