"""The row cache: finished rows are reused, changed rows retrained, corrupt files ignored; the same rows
from a 2-worker Dask LocalCluster as from this process."""

from __future__ import annotations

import json

import pytest

from ppstudy import InputError, rowcache

CALLS: list[str] = []


def toy_row(name: str, a: int, b: int) -> dict:
    """A deterministic 'training': its result depends on its specification only."""
    CALLS.append(name)
    return {"accuracy": (a * 31 + b * 7) % 97 / 97, "name": name}


def tasks(b_of_row1: int = 2) -> list[rowcache.RowTask]:
    specs = [("plain", 1, 1), ("step2", 2, b_of_row1), ("tanaka", 3, 5)]
    return [rowcache.RowTask(n, {"row": n, "a": a, "b": b}, toy_row, {"name": n, "a": a, "b": b}) for n, a, b in specs]


def test_a_finished_row_is_reused_and_a_changed_row_retrained(tmp_path):
    cache = rowcache.RowCache(tmp_path / "rows")
    CALLS.clear()
    first, reused, not_run = rowcache.run_rows(tasks(), cache)
    assert CALLS == ["plain", "step2", "tanaka"] and reused == [] and not_run == []
    CALLS.clear()
    again, reused, _ = rowcache.run_rows(tasks(), cache)
    assert CALLS == [] and reused == ["plain", "step2", "tanaka"] and again == first
    CALLS.clear()
    changed, reused, _ = rowcache.run_rows(tasks(b_of_row1=3), cache)  # step2's configuration changed
    assert CALLS == ["step2"] and reused == ["plain", "tanaka"]
    assert changed["step2"] == toy_row("step2", 2, 3)


def test_the_key_covers_the_recipe_version(monkeypatch):
    spec = {"row": "plain", "seed": 0}
    k = rowcache.row_key(spec)
    monkeypatch.setattr(rowcache, "RECIPE_VERSION", rowcache.RECIPE_VERSION + 1)
    assert rowcache.row_key(spec) != k
    assert rowcache.row_key({"seed": 0, "row": "plain"}) == rowcache.row_key(spec)  # key order is irrelevant


def test_a_budget_stops_before_the_next_row_and_a_resumed_run_trains_only_the_rest(tmp_path):
    cache = rowcache.RowCache(tmp_path / "rows")
    t = iter([0.0, 10.0, 10.0, 20.0, 20.0])  # the first row takes 10 s; budget 15 s: the second is not started
    CALLS.clear()
    done, _, not_run = rowcache.run_rows(tasks(), cache, budget_s=15.0, clock=lambda: next(t))
    assert list(done) == ["plain"] and not_run == ["step2", "tanaka"]
    CALLS.clear()
    done, reused, not_run = rowcache.run_rows(tasks(), cache)
    assert CALLS == ["step2", "tanaka"] and reused == ["plain"] and not_run == []


def test_a_corrupt_or_foreign_row_file_is_retrained(tmp_path):
    cache = rowcache.RowCache(tmp_path / "rows")
    rowcache.run_rows(tasks(), cache)
    p = cache.path(tasks()[0].spec)
    rec = json.loads(p.read_text())
    rec["result"]["accuracy"] = 0.99  # tampered: the digest no longer matches
    p.write_text(json.dumps(rec))
    cache.path(tasks()[1].spec).write_text("{not json")
    CALLS.clear()
    with pytest.warns(UserWarning, match="row cache"):
        rowcache.run_rows(tasks(), cache)
    assert CALLS == ["plain", "step2"]


def test_bad_specifications_are_refused(tmp_path):
    with pytest.raises(InputError):
        rowcache.row_key({})
    with pytest.raises(InputError):
        rowcache.row_key({"x": float("nan")})
    with pytest.raises(InputError):
        rowcache.run_rows(tasks() + tasks()[:1], rowcache.RowCache(tmp_path))


def test_a_local_cluster_assembles_the_same_rows_as_this_process(tmp_path):
    distributed = pytest.importorskip("distributed")
    serial, _, _ = rowcache.run_rows(tasks(), rowcache.RowCache(tmp_path / "serial"))
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        fanned, reused, not_run = rowcache.run_rows(tasks(), rowcache.RowCache(tmp_path / "dask"), client=client)
    assert fanned == serial and reused == [] and not_run == []
    assert list(fanned) == ["plain", "step2", "tanaka"]
    assert sorted(p.name for p in (tmp_path / "dask").glob("*.json")) == sorted(
        p.name for p in (tmp_path / "serial").glob("*.json")
    )
