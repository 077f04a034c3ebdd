"""BFV encryption of face crops with Pyfhel: exact round trip, files, corrupt input, a missing backend."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from ppstudy import InputError, PPStudyError

needs_pyfhel = pytest.mark.skipif(
    importlib.util.find_spec("Pyfhel") is None, reason="Pyfhel is not installed (pip install Pyfhel)"
)


def test_missing_pyfhel_is_a_dependency_error_not_bad_input(monkeypatch):
    from ppstudy.ciphers import bfv

    monkeypatch.setitem(sys.modules, "Pyfhel", None)  # import Pyfhel now raises ImportError
    with pytest.raises(bfv.MissingDependencyError, match="pip install Pyfhel") as e:
        bfv.keygen()
    assert isinstance(e.value, PPStudyError) and isinstance(e.value, ImportError)
    assert not isinstance(e.value, InputError)


def test_key_space():
    from ppstudy.ciphers import bfv

    ks = bfv.key_space()
    assert ks.bits == pytest.approx(8192 * np.log2(3)) and ks.count is None and not ks.bound
    small = bfv.key_space((4, 4), n=16, exact=True)
    assert small.count == 3**16 and small.bits == pytest.approx(16 * np.log2(3))
    with pytest.raises(InputError, match="slots"):
        bfv.key_space((52, 52, 3), n=4096)
    with pytest.raises(InputError, match="positive integer"):
        bfv.key_space(n=0)


@pytest.fixture(scope="module")
def key():
    from ppstudy.ciphers import bfv

    return bfv.keygen()


@pytest.mark.fhe
@needs_pyfhel
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


@pytest.mark.fhe
@needs_pyfhel
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
    # the image view is the payload's bytes after SEAL's header, in order
    fake = bytes(bfv.SEAL_HEADER) + bytes(range(256)) * 40
    view = bfv.ciphertext_image(fake)
    assert np.array_equal(view.reshape(-1), np.frombuffer(fake, np.uint8)[bfv.SEAL_HEADER :][: 52 * 52 * 3])
    assert view[0, 0].tolist() == [0, 1, 2] and view[0, 1].tolist() == [3, 4, 5]


@pytest.mark.fhe
@needs_pyfhel
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


@pytest.mark.fhe
@needs_pyfhel
def test_wrong_key_and_shapes(key):
    from ppstudy.ciphers import bfv

    x = np.zeros((52, 52, 3), np.uint8) + 7
    cts = bfv.encrypt(x, key)
    with pytest.raises(InputError, match="does not fit the key.*52x52 first"):
        bfv.encrypt(np.zeros((1, 50, 50, 3), np.uint8), key)
    with pytest.raises(InputError, match="uint8"):
        bfv.encrypt(np.zeros((52, 52, 3), np.float32), key)
    with pytest.raises(InputError, match="slots"):
        bfv.keygen((100, 100, 3))
    with pytest.raises(InputError, match="Pyfhel cannot seed"):
        bfv.keygen(seed=1)
    other = bfv.keygen()
    with pytest.raises(InputError):
        bfv.decrypt(cts, other)  # decrypts to noise outside 0..255


@pytest.mark.fhe
@needs_pyfhel
def test_empty_batch_and_grayscale(key):
    from ppstudy.ciphers import bfv

    assert bfv.encrypt(np.zeros((0, 52, 52, 3), np.uint8), key) == []
    assert bfv.decrypt([], key).shape == (0, 52, 52, 3)
    gray = bfv.keygen((20, 20))
    g = np.random.default_rng(2).integers(0, 256, (3, 20, 20), dtype=np.uint8)
    cts = bfv.encrypt(g, gray)  # an N x H x W batch for a one-channel key: 3 images, not one
    assert len(cts) == 3
    np.testing.assert_array_equal(bfv.decrypt(cts, gray)[..., 0], g)
