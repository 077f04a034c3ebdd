"""Safety of what the runner removes, replaces and copies, integrity of published runs and caches, and one
clear line for a misconfigured command (issue 28)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest

from ppstudy import DataUnavailableError, InputError
from ppstudy.cli import main
from ppstudy.manifest.store import DIGEST_FILE, verify_digest
from ppstudy.pipeline import execute, figures, publish
from ppstudy.pipeline.params import resolve
from ppstudy.project import notebook, paths
from ppstudy.project.chapters import get
from ppstudy.site import stage

ROOT = Path(__file__).resolve().parents[1]


def _precious(tmp_path: Path, name: str = "v") -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "precious").write_text("keep me")
    return d


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# ---------------------------------------------------------------------- the run link and its neighbours
def test_a_run_link_pointing_outside_runs_is_replaced_not_followed(tiny_root, tmp_path):
    """The reproducer: runs/etc/smoke -> ../v, then `ppstudy run etc`: ../v must survive."""
    outside = _precious(tmp_path)
    (tiny_root / "runs" / "etc").mkdir(parents=True)
    final = tiny_root / "runs" / "etc" / "smoke"
    final.symlink_to(outside)
    out = execute.run("etc", "smoke", root=tiny_root, progress=False)
    assert (outside / "precious").read_text() == "keep me"
    assert out.is_symlink() and Path(os.path.realpath(out)).parent == final.parent / ".smoke.runs"
    assert (out / "results.json").is_file()


def test_switch_removes_only_a_run_of_its_own_store(tmp_path):
    store = tmp_path / "runs" / "etc" / ".smoke.runs"
    (store / "new").mkdir(parents=True)
    (store / "old").mkdir()
    final = store.parent / "smoke"
    final.symlink_to(store / "old")
    execute._switch(final, store / "new")  # a run of the store: removed once replaced
    assert not (store / "old").exists() and os.path.realpath(final) == str(store / "new")
    outside = _precious(tmp_path)
    final.unlink()
    final.symlink_to(outside)
    (store / "newer").mkdir()
    execute._switch(final, store / "newer")
    assert (outside / "precious").is_file()


def test_a_failed_link_is_unlinked_not_followed(tmp_path):
    outside = _precious(tmp_path)
    staging = tmp_path / "runs" / "etc" / ".smoke.runs" / "x.partial"
    staging.mkdir(parents=True)
    (staging / "etc.ipynb").write_text("{}")
    failed = tmp_path / "runs" / "etc" / "smoke.failed"
    failed.symlink_to(outside)
    execute._keep_failed(staging, failed)
    assert (outside / "precious").is_file()
    assert not failed.is_symlink() and (failed / "etc.ipynb").is_file()


def test_a_chapter_directory_linked_outside_runs_is_refused(tiny_root, tmp_path):
    outside = _precious(tmp_path)
    (tiny_root / "runs").mkdir()
    (tiny_root / "runs" / "etc").symlink_to(outside)
    with pytest.raises(InputError, match=r"refusing to write to .*runs/etc.*not inside"):
        execute.run("etc", "smoke", root=tiny_root, progress=False)
    assert sorted(p.name for p in outside.iterdir()) == ["precious"]


def test_a_stale_partial_is_cleaned_by_the_next_run(tiny_root):
    store = tiny_root / "runs" / "etc" / ".smoke.runs"
    stale = store / f"20240101T000000-{_dead_pid()}-abcdef.partial"
    live = store / f"20240101T000000-{os.getppid()}-fedcba.partial"  # a live process's: left alone
    for d in (stale, live):
        d.mkdir(parents=True)
        (d / "etc.ipynb").write_text("{}")
    execute.run("etc", "smoke", root=tiny_root, progress=False)
    assert not stale.exists() and live.is_dir()


def test_regenerating_figures_never_writes_through_a_link_outside_runs(tiny_root, tmp_path):
    outside = _precious(tmp_path)
    (outside / "results.json").write_text(json.dumps({"chapter": "etc", "profile": "smoke", "figures": []}))
    (tiny_root / "runs" / "etc").mkdir(parents=True)
    (tiny_root / "runs" / "etc" / "smoke").symlink_to(outside)
    with pytest.raises(InputError, match="refusing to redraw figures into"):
        figures.regenerate_figures("etc", "smoke", tiny_root)


def test_a_lock_file_link_is_never_followed(tiny_root, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tiny_root / "runs" / "etc").mkdir(parents=True)
    (tiny_root / "runs" / "etc" / ".smoke.lock").symlink_to(victim)
    with pytest.raises(InputError, match=r"\.smoke\.lock is a symbolic link"):
        execute.run("etc", "smoke", root=tiny_root, progress=False)
    assert victim.read_text() == "keep me"


def test_json_is_never_written_through_a_planted_link(tmp_path, monkeypatch):
    from ppstudy.manifest.store import write_json_atomic

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    monkeypatch.setattr(os, "getpid", lambda: 4242)  # the temporary name the old code would use
    (tmp_path / "index.json.4242.tmp").symlink_to(victim)
    write_json_atomic(tmp_path / "index.json", {"a": 1})
    assert victim.read_text() == "keep me" and json.loads((tmp_path / "index.json").read_text()) == {"a": 1}


def test_redrawing_a_published_run_never_writes_through_a_link_outside_results(tiny_root, tmp_path, capsys):
    _fake_run(tiny_root, {})
    publish.publish("etc", "quick", root=tiny_root)
    outside = tmp_path / "outside"
    os.replace(tiny_root / "results" / "etc", outside)
    (tiny_root / "results" / "etc").symlink_to(outside)
    assert main(["figures", "etc", "--profile", "quick", "--published"]) == 2
    assert "refusing to redraw figures into" in _one_line(capsys)


def test_checkpoints_clean_never_removes_outside_runs(tiny_root, tmp_path, capsys):
    outside = _precious(tmp_path)
    ck = outside / "fp0"
    ck.mkdir()
    (ck / "checkpoint.pt").write_bytes(b"x")
    (ck / "settings.json").write_text(json.dumps({"tag": "t"}))
    (tiny_root / "runs" / ".checkpoints").mkdir(parents=True)
    (tiny_root / "runs" / ".checkpoints" / "etc").symlink_to(outside)
    assert main(["checkpoints", "clean", "etc"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refusing to remove the checkpoint" in err[0], err
    assert (ck / "checkpoint.pt").is_file() and (outside / "precious").is_file()


def test_staging_the_book_unlinks_links_it_replaces(tiny_root, tmp_path, monkeypatch):
    """_build/stage and its _md_sources/ are replaced on every build: a link there is unlinked, never
    followed (what it points at is left alone)."""
    from ppstudy.site import config as bookconfig

    _fake_run(tiny_root, {})
    dest = publish.publish("etc", "quick", root=tiny_root)
    monkeypatch.setattr(stage, "chapter_sources", lambda profile, root: {"etc": dest})
    monkeypatch.setattr(bookconfig, "configure_stage", lambda stage, root: {})
    monkeypatch.setenv("PPSTUDY_BUILD", str(tiny_root / "_build"))
    (tiny_root / "_config.yml").write_text("title: t\n")
    outside = _precious(tmp_path)
    (tiny_root / "_build").mkdir()
    (tiny_root / "_build" / "stage").symlink_to(outside)
    staged = stage.stage_book(None, tiny_root)
    assert sorted(p.name for p in outside.iterdir()) == ["precious"]
    assert not staged.is_symlink() and (staged / "book" / "etc.ipynb").is_file()


def test_configure_stage_unlinks_a_sources_link(tiny_root, tmp_path):
    from ppstudy.site import config as bookconfig

    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "_config.yml").write_text("title: t\n")
    outside = _precious(tmp_path)
    (stage / bookconfig.MD_SOURCES).symlink_to(outside)
    bookconfig.configure_stage(stage, tiny_root, chapters=["etc"], env={})
    assert sorted(p.name for p in outside.iterdir()) == ["precious"]
    assert (stage / bookconfig.MD_SOURCES / "etc.md").is_file()


def test_copy_mathjax_unlinks_a_link(tmp_path):
    pytest.importorskip("mathjax")
    from ppstudy.site import sphinxext

    outside = _precious(tmp_path)
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "mathjax").symlink_to(outside)
    files = sphinxext.copy_mathjax(tmp_path / "_static" / "mathjax")
    assert files and sorted(p.name for p in outside.iterdir()) == ["precious"]


def test_remove_never_leaves_its_base(tmp_path):
    from ppstudy.project.paths import remove

    outside = _precious(tmp_path)
    build = tmp_path / "build"
    build.mkdir()
    with pytest.raises(InputError, match="not inside"):
        remove(outside, build)
    with pytest.raises(InputError, match="not inside"):
        remove(build, build)
    assert (outside / "precious").is_file() and build.is_dir()


# ---------------------------------------------------------------------- publishing
def _fake_run(tiny_root: Path, manifest: dict) -> Path:
    """A finished run of etc [quick] as the runner leaves it: runs/etc/quick -> .quick.runs/<run>."""
    store = tiny_root / "runs" / "etc" / ".quick.runs"
    d = store / "20240101T000000-1-aaaaaa"
    (d / "figures").mkdir(parents=True)
    base = {"chapter": "etc", "profile": "quick", "finished": "2024", "git": {"commit": "abc"}, "tables": {}}
    (d / "results.json").write_text(json.dumps({**base, **manifest}))
    nbformat.write(nbformat.v4.new_notebook(), d / "etc.ipynb")
    (store.parent / "quick").symlink_to(d)
    return d


@pytest.mark.parametrize("kind", ["arrays", "figures"])
@pytest.mark.parametrize("name", ["../../../../elsewhere/x", "/abs/x", "..", "a/../../b"])
def test_publish_refuses_names_that_are_paths(tiny_root, tmp_path, kind, name):
    d = _fake_run(tiny_root, {kind: [name]})
    (tmp_path / "elsewhere").mkdir()
    (tiny_root / "elsewhere").mkdir()
    np.savez(tiny_root / "elsewhere" / "x.npz", a=np.linspace(0, 1, 3))
    (d / "figures" / "x.png").write_bytes(b"png")
    with pytest.raises(InputError, match="not a plain name"):
        publish.publish("etc", "quick", root=tiny_root)
    assert not list((tmp_path / "elsewhere").iterdir()), "nothing written outside results/"
    assert not (tiny_root / "results").exists() or not list((tiny_root / "results").rglob("*.npz"))


def test_publish_refuses_a_file_linked_from_outside_the_run(tiny_root, tmp_path):
    d = _fake_run(tiny_root, {"arrays": ["curves"]})
    np.savez(tmp_path / "secret.npz", a=np.linspace(0, 1, 3))
    (d / "curves.npz").symlink_to(tmp_path / "secret.npz")
    with pytest.raises(InputError, match="refusing to publish"):
        publish.publish("etc", "quick", root=tiny_root)


def test_publish_refuses_a_results_chapter_directory_linked_outside(tiny_root, tmp_path):
    _fake_run(tiny_root, {})
    outside = _precious(tmp_path)
    (tiny_root / "results").mkdir()
    (tiny_root / "results" / "etc").symlink_to(outside)
    with pytest.raises(InputError, match="refusing to publish into"):
        publish.publish("etc", "quick", root=tiny_root)
    assert sorted(p.name for p in outside.iterdir()) == ["precious"]


def test_a_published_run_carries_a_digest_that_is_checked(tiny_root):
    _fake_run(tiny_root, {"tables": {"t": {"rows": [{"measured": 0.25}]}}})
    dest = publish.publish("etc", "quick", root=tiny_root)
    assert (dest / DIGEST_FILE).read_text().startswith("sha256:")
    assert publish.published_run("etc", tiny_root) == dest and verify_digest(dest)
    # re-indenting the file changes no value: still the same digest
    m = json.loads((dest / "results.json").read_text())
    (dest / "results.json").write_text(json.dumps(m, indent=4) + "\r\n")
    assert verify_digest(dest)
    m["tables"]["t"]["rows"][0]["measured"] = 0.5  # one number changed by hand
    (dest / "results.json").write_text(json.dumps(m))
    with pytest.raises(InputError, match=r"results/etc/quick/results.json does not match its digest"):
        publish.published_run("etc", tiny_root)
    # a published run from before digests still renders
    (dest / DIGEST_FILE).unlink()
    assert publish.published_run("etc", tiny_root) == dest and not verify_digest(dest)


def test_publish_refuses_a_run_whose_digest_does_not_match(tiny_root):
    d = _fake_run(tiny_root, {})
    (d / DIGEST_FILE).write_text("sha256:" + "0" * 64 + "\n")
    with pytest.raises(InputError, match="does not match its digest"):
        publish.publish("etc", "quick", root=tiny_root)


def test_staging_the_book_checks_the_digest(tiny_root, monkeypatch):
    _fake_run(tiny_root, {})
    dest = publish.publish("etc", "quick", root=tiny_root)
    (dest / DIGEST_FILE).write_text("sha256:" + "0" * 64 + "\n")
    monkeypatch.setattr(stage, "chapter_sources", lambda profile, root: {"etc": dest})
    monkeypatch.setenv("PPSTUDY_BUILD", str(tiny_root / "_build"))
    (tiny_root / "_config.yml").write_text("title: t\n")
    with pytest.raises(InputError, match="does not match its digest"):
        stage.stage_book(None, tiny_root)


# ---------------------------------------------------------------------- the command line
def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_ppstudy_runs_naming_a_file_is_one_line(tiny_root, tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("x")
    for value in (tmp_path / "afile", tmp_path / "afile" / "sub"):
        monkeypatch.setenv("PPSTUDY_RUNS", str(value))
        for args in (["figures", "etc"], ["publish", "etc", "--profile", "quick"], ["checkpoints", "list"]):
            assert main(args) == 2, args
            assert "PPSTUDY_RUNS=" in _one_line(capsys), args


def test_ppstudy_runs_naming_a_missing_path_is_one_line(tiny_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PPSTUDY_RUNS", str(tmp_path / "missing"))
    for args in (["figures", "etc"], ["publish", "etc", "--profile", "quick"], ["checkpoints", "list"]):
        assert main(args) == 2, args
        assert "PPSTUDY_RUNS=" in (line := _one_line(capsys)) and "does not exist" in line, args


def test_a_zero_ratio_is_one_line_before_the_run(tiny_root, capsys):
    assert main(["run", "etc", "-p", "ratios", "[0]"]) == 2
    assert "parameter ratios: every element must be positive, got 0" in _one_line(capsys)
    assert not (tiny_root / "runs" / "etc" / "smoke").exists()


def test_rbf_gamma_takes_the_number_its_parameters_cell_documents(monkeypatch, capsys):
    ch = get("etc")
    nb = notebook.read_notebook(ch, ROOT)
    assert resolve(ch, nb, "smoke", {"rbf_gamma": 0.5}, ROOT)["rbf_gamma"] == 0.5
    assert resolve(ch, nb, "smoke", {"rbf_gamma": "1e-3"}, ROOT)["rbf_gamma"] == 0.001
    assert resolve(ch, nb, "smoke", {"rbf_gamma": "scale"}, ROOT)["rbf_gamma"] == "scale"
    for bad in (0, -1.0, "auto", True, [1]):
        with pytest.raises(InputError, match="parameter rbf_gamma: expected 'scale' or a positive number"):
            resolve(ch, nb, "smoke", {"rbf_gamma": bad}, ROOT)
    monkeypatch.setenv("PPSTUDY_ROOT", str(ROOT))
    assert main(["run", "etc", "-p", "rbf_gamma", "0"]) == 2
    assert "positive number" in _one_line(capsys)


# ---------------------------------------------------------------------- caches verified by content
def _batch(n, seed):
    rng = np.random.default_rng(seed)
    return {b"labels": rng.integers(0, 10, n).tolist(), b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}


def test_the_unpacked_cifar_check_is_by_content_not_size_and_time(tmp_path, monkeypatch):
    from ppstudy.data import cifar10

    monkeypatch.setenv("PPSTUDY_DATA", str(tmp_path))
    d = tmp_path / "cifar10" / cifar10.UNPACKED
    d.mkdir(parents=True)
    raw = pickle.dumps(_batch(4, 9), protocol=2)
    (d / "test_batch").write_bytes(raw)
    monkeypatch.setitem(cifar10.BATCH_MD5, "test_batch", hashlib.md5(raw).hexdigest())
    x, _ = cifar10.load("test")
    st = (d / "test_batch").stat()
    bad = bytearray(raw)
    bad[-20] ^= 1  # a flipped bit in the pixels: same size, and the same time stamp put back
    (d / "test_batch").write_bytes(bytes(bad))
    os.utime(d / "test_batch", ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(DataUnavailableError, match="has md5"):
        cifar10.load("test")


def test_a_cifar_tarball_given_by_path_is_verified(tmp_path):
    import io
    import tarfile

    from ppstudy.data import cifar10

    p = tmp_path / "mine.tar.gz"
    with tarfile.open(p, "w:gz") as tar:
        raw = pickle.dumps(_batch(3, 1), protocol=2)
        info = tarfile.TarInfo(f"{cifar10.UNPACKED}/test_batch")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    with pytest.raises(InputError, match=f"expected the official {cifar10.MD5}.*verify=False"):
        cifar10.load("test", path=p)
    x, y, src = cifar10.load_with_source("test", path=p, verify=False)
    assert x.shape == (3, 32, 32, 3) and src.files[0].md5 is None
    with pytest.raises(DataUnavailableError, match="does not exist"):
        cifar10.load("test", path=tmp_path / "nope.tar.gz")


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_a_corrupt_table2_cache_is_removed_and_rebuilt(tmp_path, damage):
    from ppstudy.ciphers import deid, ope
    from ppstudy.studies import deid as study

    key = ope.OPEKey(b"deid-test-key-0123456789", (-500, 500), (-5000, 5000))
    sv = deid.Settings(size=16, out_size=32, tracer="vtracer")
    rng = np.random.default_rng(0)
    x = np.repeat(np.repeat(rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8), 4, axis=1), 4, axis=2)
    want, _ = study.table2_protocol(x, key, [16], 32, settings=sv, cache_dir=tmp_path, progress=False, keep=1)
    (path,) = tmp_path.glob("table2_16_*.npz")
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        b = bytearray(raw)
        for i in range(len(b) // 3, len(b) // 3 + 64):
            b[i] ^= 0xFF
        path.write_bytes(bytes(b))
    else:
        path.write_bytes(b"PK\x03\x04 not an npz")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows, _ = study.table2_protocol(x, key, [16], 32, settings=sv, cache_dir=tmp_path, progress=False, keep=1)
    assert rows == want, "the values are computed again, the same"
    assert any("Table 2 cache" in str(w.message) and "removed" in str(w.message) for w in caught)
    with np.load(path, allow_pickle=False) as z:  # stored afresh, readable
        assert set(study._PER_IMAGE) <= set(z.files)


def test_published_runs_without_a_digest_still_load():
    """The runs published before digests (results/*/*/) are accepted as they are."""
    for ch, entry in publish.published_index(ROOT).items():
        for prof in entry["runs"]:
            d = paths.published_root(ROOT) / ch / prof
            verify_digest(d)  # a recorded digest must match; none is fine
