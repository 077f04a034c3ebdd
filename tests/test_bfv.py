"""BFV encryption of face crops with Pyfhel: exact round trip, files, corrupt input."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from ppstudy import InputError

pytestmark = [pytest.mark.fhe,
              pytest.mark.skipif(importlib.util.find_spec("Pyfhel") is None,
                                 reason="Pyfhel is not installed (pip install Pyfhel)")]


@pytest.fixture(scope="module")
def key():
    from ppstudy.ciphers import bfv

    return bfv.keygen()


def test_round_trip_one_ciphertext_per_image(key):
    from ppstudy.ciphers import bfv

    x = np.random.default_rng(0).integers(0, 256, (3, 52, 52, 3), dtype=np.uint8)
    x[0] = 0
    x[1] = 255
    cts = bfv.encrypt(x, key)
    assert len(cts) == 3 and all(isinstance(c, bytes) for c in cts)
    assert len(set(cts)) == 3
    np.testing.assert_array_equal(bfv.decrypt(cts, key), x)
    # probabilistic encryption: the same image twice gives different ciphertexts
    a, b = bfv.encrypt(np.stack([x[2], x[2]]), key)
    assert a != b
    np.testing.assert_array_equal(bfv.decrypt([a, b], key), np.stack([x[2], x[2]]))


def test_files_and_key_directory(key, tmp_path):
    from ppstudy.ciphers import bfv

    x = np.random.default_rng(1).integers(0, 256, (52, 52, 3), dtype=np.uint8)
    (ct,) = bfv.encrypt(x, key)
    p = bfv.write_ciphertext(tmp_path / "0.bin", ct)
    assert bfv.read_ciphertext(p) == ct
    key.save(tmp_path / "k")
    k2 = bfv.BFVKey.load(tmp_path / "k")
    np.testing.assert_array_equal(bfv.decrypt(bfv.read_ciphertext(p), k2)[0], x)
    # public key only: encrypts, refuses to decrypt
    pub = key.public()
    np.testing.assert_array_equal(bfv.decrypt(bfv.encrypt(x, pub), key)[0], x)
    with pytest.raises(InputError, match="no secret key"):
        bfv.decrypt([ct], pub)
    # raw SEAL bytes (a user's own challenge file) are accepted as well
    (tmp_path / "raw.bin").write_bytes(ct)
    assert bfv.read_ciphertext(tmp_path / "raw.bin") == ct
    img = bfv.ciphertext_image(ct)
    assert img.shape == (52, 52, 3) and img.dtype == np.uint8


def test_corrupt_files(key, tmp_path):
    from ppstudy.ciphers import bfv

    (ct,) = bfv.encrypt(np.zeros((52, 52, 3), np.uint8), key)
    p = bfv.write_ciphertext(tmp_path / "c.bin", ct)
    raw = bytearray(p.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    p.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="corrupt"):
        bfv.read_ciphertext(p)
    p.write_bytes(p.read_bytes()[:30])
    with pytest.raises(InputError, match="truncated"):
        bfv.read_ciphertext(p)
    (tmp_path / "junk.bin").write_bytes(b"hello world, not a ciphertext")
    with pytest.raises(InputError, match="neither"):
        bfv.read_ciphertext(tmp_path / "junk.bin")
    with pytest.raises(InputError, match="does not exist"):
        bfv.read_ciphertext(tmp_path / "missing.bin")
    with pytest.raises(InputError, match="not a valid BFV ciphertext"):
        bfv.decrypt([ct[:1000]], key)
    with pytest.raises(InputError, match="key directory"):
        bfv.BFVKey.load(tmp_path / "nokey")


def test_wrong_key_and_shapes(key):
    from ppstudy.ciphers import bfv

    x = np.zeros((52, 52, 3), np.uint8) + 7
    cts = bfv.encrypt(x, key)
    with pytest.raises(InputError, match="does not match"):
        bfv.encrypt(np.zeros((1, 50, 50, 3), np.uint8), key)
    with pytest.raises(InputError, match="uint8"):
        bfv.encrypt(np.zeros((52, 52, 3), np.float32), key)
    with pytest.raises(InputError, match="slots"):
        bfv.keygen((100, 100, 3))
    with pytest.raises(InputError, match="cannot be seeded"):
        bfv.keygen(seed=1)
    other = bfv.keygen()
    with pytest.raises(InputError):
        bfv.decrypt(cts, other)  # decrypts to noise outside 0..255
