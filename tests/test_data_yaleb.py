"""Extended Yale B cropped loader against a small archive in the real layout, and the synthetic smoke faces."""

from __future__ import annotations

import dataclasses
import io
import urllib.error
import zipfile

import numpy as np
import pytest
from PIL import Image

from ppstudy import DataUnavailableError, InputError
from ppstudy.data import registry, yaleb

LIGHTS = ["P00A+000E+00", "P00A-005E-10", "P00A+010E+20", "P00A-035E+65"]


def _pgm(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a, mode="L").save(buf, format="PPM")  # 8-bit grayscale -> binary PGM (P5)
    assert buf.getvalue()[:2] == b"P5"
    return buf.getvalue()


def _archive(path, persons=(1, 2, 3), lights=LIGHTS, bad=("yaleB02", LIGHTS[0]), corrupt=None, size=(192, 168)):
    rng = np.random.default_rng(0)
    images = {}
    with zipfile.ZipFile(path, "w") as zf:
        for p in persons:
            name = f"yaleB{p:02d}"
            zf.writestr(f"CroppedYale/{name}/", "")
            zf.writestr(f"CroppedYale/{name}/{name}_P00_Ambient.pgm", _pgm(np.zeros(size, np.uint8)))
            for light in lights:
                a = rng.integers(0, 256, size, dtype=np.uint8)
                fname = f"CroppedYale/{name}/{name}_{light}.pgm"
                if bad and (name, light) == bad:
                    fname += ".bad"
                data = b"not an image" if corrupt == (name, light) else _pgm(a)
                zf.writestr(fname, data)
                images[(name, light)] = a
        zf.writestr("CroppedYale/WS_FTP.LOG", "log")
    return images


@pytest.fixture
def cached(data_cache, monkeypatch):
    """The archive in the cache under its registered name, with the registry's sha256 set to its own."""
    dest = data_cache / yaleb.CROPPED.name / yaleb.CROPPED.filename
    dest.parent.mkdir(parents=True)
    images = _archive(dest)
    monkeypatch.setattr(yaleb, "CROPPED", dataclasses.replace(yaleb.CROPPED, sha256=registry.sha256_file(dest)))
    return dest, images


def test_registered_with_the_real_url():
    spec = registry.get("yaleb_cropped")
    assert spec.url == "http://vision.ucsd.edu/extyaleb/CroppedYaleBZip/CroppedYale.zip"
    assert spec.filename == "CroppedYale.zip"


def test_load_cropped_from_the_cache(cached):
    _, images = cached
    d = yaleb.load_cropped(expect_persons=3)
    assert d["images"].shape == (12, 192, 160) and d["images"].dtype == np.uint8
    assert d["persons"] == ["yaleB01", "yaleB02", "yaleB03"]
    assert np.array_equal(np.bincount(d["labels"]), [4, 4, 4])
    for img, f in zip(d["images"], d["files"]):
        name = f.split("/")[1]
        light = f.split("_", 1)[1].split(".")[0]
        assert np.array_equal(img, images[(name, light)][:, 4:164])  # centre crop 168 -> 160
    i = d["files"].index("CroppedYale/yaleB01/yaleB01_P00A-035E+65.pgm")
    assert (d["azimuth"][i], d["elevation"][i]) == (-35, 65)
    assert not any("Ambient" in f for f in d["files"])
    d = yaleb.load_cropped(expect_persons=3, include_bad=False)
    assert np.array_equal(np.bincount(d["labels"]), [4, 3, 4])


def test_checksum_is_verified(cached, monkeypatch):
    monkeypatch.setattr(yaleb, "CROPPED", dataclasses.replace(yaleb.CROPPED, sha256="0" * 64))
    with pytest.raises(DataUnavailableError, match="checksum"):
        yaleb.load_cropped(expect_persons=3)


def test_missing_dataset_says_where_to_put_it(data_cache, monkeypatch):
    def offline(url, dest, timeout):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(registry, "_download", offline)
    monkeypatch.setattr(registry.time, "sleep", lambda s: None)
    with pytest.raises(DataUnavailableError, match=r"CroppedYale\.zip.*yaleb_cropped"):
        yaleb.load_cropped()


def test_bad_archives(tmp_path):
    p = tmp_path / "a.zip"
    _archive(p, corrupt=("yaleB01", LIGHTS[1]))
    with pytest.raises(InputError, match="not a readable PGM"):
        yaleb.load_cropped(p, expect_persons=3)
    _archive(p, size=(100, 168))
    with pytest.raises(InputError, match="192x168"):
        yaleb.load_cropped(p, expect_persons=3)
    _archive(p)
    with pytest.raises(InputError, match="found 3 persons"):
        yaleb.load_cropped(p)
    (tmp_path / "b.zip").write_bytes(b"garbage")
    with pytest.raises(InputError, match="not a readable zip"):
        yaleb.load_cropped(tmp_path / "b.zip")
    with pytest.raises(InputError, match="width"):
        yaleb.load_cropped(p, width=161)


def test_a_damaged_archive_and_a_decompression_bomb(tmp_path):
    p = tmp_path / "a.zip"
    _archive(p)
    with zipfile.ZipFile(p) as zf:  # flip a pixel byte of a face the loader reads: its CRC no longer matches
        info = zf.getinfo(f"CroppedYale/yaleB01/yaleB01_{LIGHTS[1]}.pgm")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw = bytearray(p.read_bytes())
    raw[start + 200] ^= 0xFF
    p.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="cannot be read .*damaged"):
        yaleb.load_cropped(p, expect_persons=3)
    q = tmp_path / "bomb.zip"
    with zipfile.ZipFile(q, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("CroppedYale/yaleB01/yaleB01_P00A+000E+00.pgm", b"P5\n60000 60000\n255\n" + bytes(60000 * 60000))
    with pytest.raises(InputError, match="not a cropped face"):
        yaleb.load_cropped(q, expect_persons=1)


def test_the_source_records_the_archive_read(cached):
    dest, _ = cached
    d = yaleb.load_cropped(expect_persons=3)
    (f,) = d["source"].files
    assert f.name == "CroppedYale.zip" and f.sha256 == registry.sha256_file(dest) and not d["source"].smoke


def test_split_half_per_person():
    labels = np.repeat(np.arange(5), [64, 64, 63, 2, 10])
    tr, q = yaleb.split_half(labels, seed=1)
    assert len(np.intersect1d(tr, q)) == 0 and len(tr) + len(q) == len(labels)
    assert np.array_equal(np.bincount(labels[tr]), [32, 32, 31, 1, 5])
    tr2, q2 = yaleb.split_half(labels, seed=1)
    assert np.array_equal(tr, tr2) and np.array_equal(q, q2)
    assert not np.array_equal(tr, yaleb.split_half(labels, seed=2)[0])


def test_synthetic_faces():
    d = yaleb.synthetic_faces(6, 5, (48, 40), seed=4)
    assert d["images"].shape == (30, 48, 40) and d["images"].dtype == np.uint8 and d["synthetic"]
    assert np.array_equal(np.bincount(d["labels"]), [5] * 6) and len(set(d["persons"])) == 6
    assert np.array_equal(d["images"], yaleb.synthetic_faces(6, 5, (48, 40), seed=4)["images"])
    assert not np.array_equal(d["images"], yaleb.synthetic_faces(6, 5, (48, 40), seed=5)["images"])
    # lighting varies within a person: images of one identity are not all alike
    per = d["images"][d["labels"] == 0].reshape(5, -1).astype(float)
    assert per.std(axis=0).mean() > 5
    with pytest.raises(InputError):
        yaleb.synthetic_faces(101, 5)
    with pytest.raises(InputError):
        yaleb.synthetic_faces(3, 5, (4, 40))
