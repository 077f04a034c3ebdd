"""The rebuilt Big Data Cup: directory layout, reader, pairing, and clear errors on bad data."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from ppstudy import InputError
from ppstudy.ciphers import catmap
from ppstudy.data import challenge as ch

HAS_PYFHEL = importlib.util.find_spec("Pyfhel") is not None


def _sources(n, seed=0):
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, 256, (int(rng.integers(20, 40)), int(rng.integers(20, 40)), 3), dtype=np.uint8)
        for _ in range(n)
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("cup")
    keys = ch.build(root, sources=_sources(14), n_train=8, n_test=6, canvas=32, tile=8, subtasks=(1, 2), seed=3)
    return root, keys


def test_layout_and_round_trip(built):
    root, keys = built
    meta = json.loads((root / "challenge.json").read_text())
    assert meta["format"] == ch.FORMAT and meta["canvas"] == 32
    for st in (1, 2):
        tr = ch.read_split(root, st, "train")
        te = ch.read_split(root, st, "test")
        assert len(tr) == 8 and len(te) == 6 and tr.labels is None
        assert tr.originals.shape == (8, 32, 32, 3) and tr.encoded.shape == (8, 32, 32, 3)
        # training pairs match: decrypting with the organisers' key gives the original exactly
        key = ch.load_cat_key(root, st)
        assert key == keys[st] and key.mode == ("tile" if st == 1 else "whole")
        np.testing.assert_array_equal(catmap.decrypt(tr.encoded, key), tr.originals)
        # test pairs: half match, the rest carry another test original's encoding
        dec = catmap.decrypt(te.encoded, key)
        same = np.all(dec == te.originals, axis=(1, 2, 3))
        np.testing.assert_array_equal(same.astype(int), te.labels)
        assert te.labels.sum() == 3
        # every encoded image used once: the non-matching ones decrypt to other test originals
        flat = {d.tobytes() for d in dec}
        assert flat == {o.tobytes() for o in te.originals}


def test_training_pairs_and_split():
    rng = np.random.default_rng(0)
    o = rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    e = rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    x, y = ch.training_pairs(o, e, seed=1)
    assert x.shape == (20, 8, 8, 6) and y.tolist() == [1] * 10 + [0] * 10
    np.testing.assert_array_equal(x[:10, ..., 3:], e)
    for i in range(10):  # negatives never pair an original with its own encoding
        assert not np.array_equal(x[10 + i, ..., 3:], e[i])
    a, b = ch.split_80_20(20, seed=0)
    assert len(a) == 16 and len(b) == 4 and set(a) | set(b) == set(range(20)) and not set(a) & set(b)


def test_test_pairing_is_balanced():
    for n, matches in ((2, 0), (3, 1), (4, 2), (7, 3), (100, 50)):
        partner, labels = ch.test_pairing(n, np.random.default_rng(n))
        assert sorted(partner) == list(range(n))  # every encoding used once
        assert np.all((partner == np.arange(n)) == (labels == 1))  # a non-match never gets its own encoding
        assert labels.sum() == matches
    a = ch.test_pairing(50, np.random.default_rng(1))
    b = ch.test_pairing(50, np.random.default_rng(1))
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    with pytest.raises(InputError, match=">= 2"):
        ch.test_pairing(1, np.random.default_rng(0))


def test_real_data_layout_with_other_sizes(tmp_path):
    """A user's files: originals of any size (put on the canvas when read), JPEG originals, no labels."""
    from PIL import Image

    key = catmap.keygen((32, 32), tile=8, seed=0)
    d = tmp_path / "subtask1" / "train"
    (d / "original").mkdir(parents=True)
    (d / "encoded").mkdir()
    for i, src in enumerate(_sources(3)):
        Image.fromarray(src).save(d / "original" / f"img{i}.jpg")
        ch.write_image(d / "encoded" / f"img{i}.png", catmap.encrypt(catmap.to_canvas(src, 32), key))
    (tmp_path / "challenge.json").write_text(json.dumps({"canvas": 32, "tile": 8}))
    s = ch.read_split(tmp_path, 1, "train")
    assert s.ids == ["img0", "img1", "img2"] and s.originals.shape == (3, 32, 32, 3) and s.labels is None
    for i, src in enumerate(_sources(3)):
        jpeg = np.asarray(Image.open(d / "original" / f"img{i}.jpg").convert("RGB"))
        np.testing.assert_array_equal(s.originals[i], catmap.to_canvas(jpeg, 32))  # read, then onto the canvas
        np.testing.assert_array_equal(catmap.decrypt(s.encoded[i], key), catmap.to_canvas(src, 32))  # lossless


def test_bad_data(built, tmp_path):
    root, _ = built
    with pytest.raises(InputError, match="does not exist"):
        ch.read_split(tmp_path / "nope", 1, "train")
    with pytest.raises(InputError, match="missing directory"):
        ch.read_split(root, 3, "train")
    with pytest.raises(InputError, match="subtask"):
        ch.read_split(root, 4, "train")
    with pytest.raises(InputError, match="split"):
        ch.read_split(root, 1, "val")
    # copy subtask 1 and break it in several ways
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    enc = bad / "subtask1" / "train" / "encoded"
    (enc / "000000.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="corrupt or not an image"):
        ch.read_split(bad, 1, "train")
    ch.write_image(enc / "000000.png", np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(InputError, match="expected the 32x32 canvas"):
        ch.read_split(bad, 1, "train")
    (enc / "000000.png").unlink()
    with pytest.raises(InputError, match="do not pair up"):
        ch.read_split(bad, 1, "train")
    (bad / "subtask1" / "test" / "labels.csv").write_text("id,label\n000000,2\n")
    with pytest.raises(InputError, match="labels.csv, line 2"):
        ch.read_split(bad, 1, "test")
    (bad / "challenge.json").write_text("{oops")
    with pytest.raises(InputError, match="corrupt"):
        ch.read_meta(bad)
    with pytest.raises(InputError, match="source images"):
        ch.build(tmp_path / "b", sources=_sources(3), n_train=4, n_test=4, canvas=16, tile=4, subtasks=(1,))


@pytest.mark.fhe
@pytest.mark.skipif(not HAS_PYFHEL, reason="Pyfhel is not installed (pip install Pyfhel)")
def test_bfv_subtask(tmp_path):
    from ppstudy.ciphers import bfv

    faces = ch.face_crops(np.random.default_rng(0).integers(0, 256, (4, 25, 25), dtype=np.uint8), 6, 52)
    keys = ch.build(tmp_path, faces=faces, n_train=3, n_test=3, subtasks=(3,))
    tr = ch.read_split(tmp_path, 3, "train")
    assert len(tr.encoded) == 3 and tr.encoded_images.shape == (3, 52, 52, 3)
    np.testing.assert_array_equal(bfv.decrypt(tr.encoded, keys[3]), tr.originals)
    k2 = bfv.BFVKey.load(tmp_path / "keys" / "subtask3")
    te = ch.read_split(tmp_path, 3, "test")
    dec = bfv.decrypt(te.encoded, k2)
    np.testing.assert_array_equal(np.all(dec == te.originals, axis=(1, 2, 3)).astype(int), te.labels)
    f = tmp_path / "subtask3" / "test" / "encoded" / "000001.bin"
    raw = bytearray(f.read_bytes())
    raw[-5] ^= 1
    f.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="corrupt"):
        ch.read_split(tmp_path, 3, "test")


@pytest.mark.parametrize(
    "content, match",
    [
        ("[1, 2, 3]", "expected a JSON object"),
        ('{"canvas": "abc"}', "'canvas' must be a positive integer"),
        ('{"canvas": -32}', "'canvas' must be a positive integer"),
        ('{"canvas": 32.0}', "'canvas' must be a positive integer"),
        ('{"tile": true}', "'tile' must be a positive integer"),
        ('{"canvas": 32, "tile": 5}', "must divide"),
        ('{"canvas": 32, "tile": 64}', "must divide"),
        ("{oops", "corrupt"),
    ],
)
def test_bad_challenge_json(built, tmp_path, content, match):
    import shutil

    root, _ = built
    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    (bad / "challenge.json").write_text(content)
    with pytest.raises(InputError, match=match):
        ch.read_meta(bad)
    with pytest.raises(InputError, match=match):
        ch.read_split(bad, 1, "train")
    (bad / "challenge.json").write_bytes(bytes([0x7B, 0xFF, 0xFE, 0x7D]))
    with pytest.raises(InputError, match="corrupt"):
        ch.read_meta(bad)


def test_bad_labels_and_limit(built, tmp_path):
    import shutil

    root, _ = built
    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    lab = bad / "subtask1" / "test" / "labels.csv"
    good = lab.read_text()
    lab.write_bytes(b"id,label\n" + "000000,1\n".encode("utf-16"))
    with pytest.raises(InputError, match="not UTF-8"):
        ch.read_split(bad, 1, "test")
    first = good.splitlines()[1]
    other = first[:-1] + ("0" if first.endswith("1") else "1")
    lab.write_text(good + other + "\n")  # the same id again with the other label
    with pytest.raises(InputError, match=r"line 8: id '000000' is labelled both"):
        ch.read_split(bad, 1, "test")
    lab.write_text(good + first + "\n")  # a consistent repeat is harmless
    np.testing.assert_array_equal(ch.read_split(bad, 1, "test").labels, ch.read_split(root, 1, "test").labels)
    for limit in (-1, 0, 2.5, True, "3"):
        with pytest.raises(InputError, match="limit must be None or an integer >= 1"):
            ch.read_split(root, 1, "train", limit=limit)
    s = ch.read_split(root, 1, "train", limit=3)
    assert s.ids == ["000000", "000001", "000002"] and len(s.originals) == 3
    assert len(ch.read_split(root, 1, "train", limit=100)) == 8
