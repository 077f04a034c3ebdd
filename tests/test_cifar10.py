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
    return {b"batch_label": b"x", b"labels": rng.integers(0, 10, n).tolist(),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"filenames": [b"f"] * n}


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
    assert np.array_equal(x[0, :, :, 0].ravel(), raw[:1024])   # red plane first, row-major
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
        cifar10.load("test", path=p)

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    _tarball(p, {"test_batch": pickle.dumps(Evil())})
    with pytest.raises(InputError, match="not allowed"):
        cifar10.load("test", path=p)
    _tarball(p, {"data_batch_1": _batch(2, 0)})
    with pytest.raises(InputError, match="no member"):
        cifar10.load("train", path=p)
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


def test_study_loads_cifar10_subsets(cache):
    from ppstudy.studies import pixel as study

    xtr, ytr, xte, yte, names, desc = study.load_data("cifar10", 7, 2, 0)
    assert xtr.shape == (7, 32, 32, 3) and xte.shape == (2, 32, 32, 3) and names == cifar10.CLASSES
    assert "CIFAR-10" in desc
    with pytest.raises(InputError):
        study.load_data("mnist", 1, 1, 0)
