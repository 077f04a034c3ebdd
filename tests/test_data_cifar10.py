"""The CIFAR-10 loader on a tiny tarball built in the real python-pickle format; the smoke set."""

from __future__ import annotations

import io
import pickle
import tarfile

import numpy as np
import pytest

from ppstudy import DataUnavailableError, InputError
from ppstudy.data import cifar10, registry


def _batch(n, seed):
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"x",
        b"labels": rng.integers(0, 10, n).tolist(),
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [b"f"] * n,
    }


def _tarball(path, batches, extra=None):
    with tarfile.open(path, "w:gz") as tar:
        for name, d in {**batches, **(extra or {})}.items():
            raw = d if isinstance(d, bytes) else pickle.dumps(d, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PPSTUDY_DATA", str(tmp_path))
    batches = {f"data_batch_{i}": _batch(4, i) for i in range(1, 6)}
    batches["test_batch"] = _batch(3, 9)
    d = tmp_path / "cifar10"
    d.mkdir()
    p = d / cifar10.SPEC.filename
    _tarball(p, batches)
    spec = registry.DatasetSpec(**{**cifar10.SPEC.__dict__, "sha256": registry.sha256_file(p)})
    monkeypatch.setattr(cifar10, "SPEC", spec)
    return p, batches


def test_load_real_format(cache):
    p, batches = cache
    x, y = cifar10.load("train", download=False)
    assert x.shape == (20, 32, 32, 3) and x.dtype == np.uint8 and y.shape == (20,)
    raw = batches["data_batch_1"][b"data"][0]
    assert np.array_equal(x[0, :, :, 0].ravel(), raw[:1024])  # red plane first, row-major
    assert np.array_equal(x[0, :, :, 2].ravel(), raw[2048:])
    assert y[:4].tolist() == batches["data_batch_1"][b"labels"]
    xt, yt = cifar10.load("test", download=False)
    assert xt.shape == (3, 32, 32, 3) and yt.tolist() == batches["test_batch"][b"labels"]


def test_registered_checksum_and_offline_error(tmp_path, monkeypatch):
    assert cifar10.SPEC.sha256 == "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
    monkeypatch.setenv("PPSTUDY_DATA", str(tmp_path))
    with pytest.raises(DataUnavailableError, match="cifar-10-python.tar.gz"):
        cifar10.load("train", download=False)


def test_corrupt_and_malicious(tmp_path):
    p = tmp_path / "bad.tar.gz"
    p.write_bytes(b"not a tarball")
    with pytest.raises(InputError, match="not a readable"):
        cifar10.load("test", path=p, verify=False)

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    _tarball(p, {"test_batch": pickle.dumps(Evil())})
    with pytest.raises(InputError, match="not allowed"):
        cifar10.load("test", path=p, verify=False)
    _tarball(p, {"data_batch_1": _batch(2, 0)})
    with pytest.raises(InputError, match="no member"):
        cifar10.load("train", path=p, verify=False)
    with pytest.raises(InputError, match="split"):
        cifar10.load("val", path=p)


def test_smoke_dataset():
    xtr, ytr, xte, yte, names = cifar10.smoke_dataset(5, 2, seed=0)
    k = len(names)
    assert xtr.shape == (5 * k, 32, 32, 3) and xte.shape == (2 * k, 32, 32, 3) and xtr.dtype == np.uint8
    assert np.bincount(ytr).tolist() == [5] * k
    a = cifar10.smoke_dataset(5, 2, seed=0)
    assert np.array_equal(a[0], xtr)
    with pytest.raises(InputError):
        cifar10.smoke_dataset(0)


def test_study_loads_cifar10_subsets(cache, monkeypatch):
    from ppstudy.studies import pixel as study

    monkeypatch.setattr(cifar10, "BATCH_IMAGES", 4)  # the fixture's batches hold 4 images each
    d = study.load_data("cifar10", 7, 2, 0)
    assert d["x_train"].shape == (7, 32, 32, 3) and d["x_test"].shape == (2, 32, 32, 3)
    assert d["classes"] == cifar10.CLASSES and d["source"].dataset == "CIFAR-10"
    with pytest.raises(InputError):
        study.load_data("mnist", 1, 1, 0)
    with pytest.raises(InputError, match="asked for"):
        cifar10.load("test", n=50)


# ---------------------------------------------------------------------- the unpacked official files
@pytest.fixture
def unpacked(tmp_path, monkeypatch):
    """The layout torchvision leaves: cifar10/cifar-10-batches-py/<batch files>, small files in the real
    pickle format, registered with their own md5 (the official ones belong to the real files)."""
    import hashlib

    monkeypatch.setenv("PPSTUDY_DATA", str(tmp_path))
    d = tmp_path / "cifar10" / cifar10.UNPACKED
    d.mkdir(parents=True)
    md5 = {}
    for name, n, seed in [*((f"data_batch_{i}", 6, i) for i in range(1, 6)), ("test_batch", 4, 9)]:
        raw = pickle.dumps(_batch(n, seed), protocol=2)
        (d / name).write_bytes(raw)
        md5[name] = hashlib.md5(raw).hexdigest()
    monkeypatch.setattr(cifar10, "BATCH_MD5", {**cifar10.BATCH_MD5, **md5})
    monkeypatch.setattr(cifar10, "BATCH_IMAGES", 6)  # so that a subset of <= 6 needs one batch
    return d


def test_the_official_md5_list():
    assert cifar10.BATCH_MD5["test_batch"] == "40351d587109b95175f43aff81a1287e"
    assert cifar10.BATCH_MD5["data_batch_1"] == "c99cafc152244af753f735de768cd75f"
    assert len(cifar10.BATCH_MD5) == 7


def test_unpacked_directory_is_read_and_verified(unpacked):
    x, y, src = cifar10.load_with_source("train")
    assert x.shape == (30, 32, 32, 3) and y.shape == (30,)
    assert [f.name for f in src.files] == [f"{cifar10.UNPACKED}/data_batch_{i}" for i in range(1, 6)]
    assert all(f.md5 == cifar10.BATCH_MD5[f.name.split("/")[1]] for f in src.files)


def test_a_subset_reads_only_the_batches_it_needs(unpacked):
    for i in range(2, 6):  # the other batches are not there at all
        (unpacked / f"data_batch_{i}").unlink()
    x, y, src = cifar10.load_with_source("train", n=5, seed=1)
    assert x.shape == (5, 32, 32, 3) and [f.name for f in src.files] == [f"{cifar10.UNPACKED}/data_batch_1"]
    assert "drawn (seed 1) from data_batch_1" in src.description
    again, _, _ = cifar10.load_with_source("train", n=5, seed=1)
    assert np.array_equal(x, again)
    with pytest.raises(DataUnavailableError, match=r"data_batch_2 is missing: put the official file there.*md5"):
        cifar10.load("train", n=7)  # 7 images need the second batch


def test_a_mismatching_file_names_the_file_and_the_expected_md5(unpacked):
    raw = bytearray((unpacked / "test_batch").read_bytes())
    raw[-5] ^= 1
    (unpacked / "test_batch").write_bytes(bytes(raw))
    with pytest.raises(DataUnavailableError, match=r"test_batch has md5 [0-9a-f]{32}, expected [0-9a-f]{32}.*put the"):
        cifar10.load("test")


@pytest.mark.parametrize(
    "payload, message",
    [
        ({b"data": np.full((2, 3072), 300, np.int32), b"labels": [0, 1]}, "outside 0..255"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 12]}, "labels outside 0..9"),
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, "expected N x 3072"),
        ({b"labels": [0, 1]}, "corrupt"),
    ],
)
def test_bad_batch_contents(unpacked, monkeypatch, payload, message):
    import hashlib

    raw = pickle.dumps(payload, protocol=2)
    (unpacked / "test_batch").write_bytes(raw)
    monkeypatch.setitem(cifar10.BATCH_MD5, "test_batch", hashlib.md5(raw).hexdigest())
    with pytest.raises(InputError, match=message):
        cifar10.load("test")


def test_a_pickle_with_an_unknown_codec(unpacked, monkeypatch):
    import hashlib

    # the batches' pickles call _codecs.encode (allowed); an unknown codec name must be one clear error
    raw = b"\x80\x02}q\x00(C\x04dataq\x01c_codecs\nencode\nq\x02X\x01\x00\x00\x00xX\x07\x00\x00\x00nocodec\x86R.)"
    raw = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x07\x00\x00\x00nocodec\x86R."
    (unpacked / "test_batch").write_bytes(raw)
    monkeypatch.setitem(cifar10.BATCH_MD5, "test_batch", hashlib.md5(raw).hexdigest())
    with pytest.raises(InputError, match="corrupt"):
        cifar10.load("test")
