"""Dataset registry: cache, checksum, retries and the offline error, against a local archive."""

from __future__ import annotations

import hashlib
import io
import tarfile
import urllib.error

import pytest

from ppstudy import DataUnavailableError, InputError
from ppstudy.data import registry


def make_tar(path):
    buf = io.BytesIO(b"hello dataset\n")
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("d/readme.txt")
        info.size = len(buf.getvalue())
        tf.addfile(info, buf)
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def archive(tmp_path):
    src = tmp_path / "src" / "d.tar.gz"
    src.parent.mkdir()
    return src, make_tar(src)


def test_cache_dir_env(data_cache):
    assert registry.cache_dir() == data_cache.resolve()


def test_fetch_downloads_verifies_and_caches(data_cache, archive):
    src, sha = archive
    spec = registry.DatasetSpec("toy", src.as_uri(), sha, "d.tar.gz")
    path = registry.fetch(spec, retries=1)
    assert path == data_cache / "toy" / "d.tar.gz" and path.read_bytes() == src.read_bytes()
    src.unlink()  # second call uses the cache, no download
    assert registry.fetch(spec, retries=1) == path


def test_checksum_mismatch_deletes_download(data_cache, archive):
    src, _ = archive
    spec = registry.DatasetSpec("toy", src.as_uri(), "0" * 64, "d.tar.gz")
    with pytest.raises(DataUnavailableError, match="checksum mismatch"):
        registry.fetch(spec, retries=1)
    assert not (data_cache / "toy" / "d.tar.gz").exists()


def test_corrupt_cached_file_is_reported(data_cache, archive):
    src, sha = archive
    spec = registry.DatasetSpec("toy", src.as_uri(), sha, "d.tar.gz")
    (data_cache / "toy").mkdir()
    (data_cache / "toy" / "d.tar.gz").write_bytes(b"truncated")
    with pytest.raises(DataUnavailableError, match="corrupt or incomplete"):
        registry.fetch(spec)


def test_offline_error_says_where_to_put_the_file(data_cache, monkeypatch):
    calls = []

    def offline(url, timeout):
        calls.append(url)
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(registry.urllib.request, "urlopen", offline)
    spec = registry.DatasetSpec("remote", "https://example.invalid/x.tgz", None, "x.tgz")
    with pytest.raises(DataUnavailableError) as e:
        registry.fetch(spec, retries=3, backoff=0)
    assert len(calls) == 3  # retried
    msg = str(e.value)
    assert "https://example.invalid/x.tgz" in msg and str(data_cache / "remote" / "x.tgz") in msg
    assert not list((data_cache / "remote").glob("*.part"))


def test_no_download_flag(data_cache):
    spec = registry.DatasetSpec("remote", "https://example.invalid/x.tgz", None, "x.tgz")
    with pytest.raises(DataUnavailableError, match="not in the cache"):
        registry.fetch(spec, download=False)


def test_unknown_dataset_name():
    with pytest.raises(InputError, match="unknown dataset 'nope'"):
        registry.fetch("nope")


def test_the_cache_directory_must_be_a_directory_that_exists(tmp_path, monkeypatch):
    monkeypatch.setenv("PPSTUDY_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match="does not exist"):
        registry.cache_dir()
    assert not (tmp_path / "nowhere").exists()  # never created behind the user's back
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("PPSTUDY_DATA", str(tmp_path / "file"))
    with pytest.raises(InputError, match="is a file"):
        registry.cache_dir()


def test_a_cache_that_cannot_hold_the_dataset_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PPSTUDY_DATA", str(tmp_path))
    (tmp_path / "x").write_text("a file where the dataset's directory must go")
    with pytest.raises(DataUnavailableError, match="cannot create .*in the data cache"):
        registry.fetch(registry.DatasetSpec("x", "http://127.0.0.1:9/x", None, "x.bin"), download=True, retries=1)
