"""The pixel study on small inputs: rows kept and reused by the row cache, orderings judged by intervals."""

from __future__ import annotations

import numpy as np
import pytest

from ppstudy import metrics
from ppstudy.studies import pixel as study


class FakeRun:
    def __init__(self):
        self.checks: dict = {}
        self.values: dict = {}

    def check(self, name, claim, passed, **kw):
        from ppstudy.manifest.status import check_status

        rec = {
            "claim": claim,
            "passed": bool(passed),
            "kind": kw.get("kind", "claim"),
            "needs": kw.get("needs"),
            "measured": kw.get("measured"),
            "evidence": kw.get("evidence"),
            "smoke": False,
        }
        rec["status"] = check_status(rec)
        self.checks[name] = rec

    def value(self, name, v, fmt=None):
        self.values[name] = v

    def reused_compute(self, seconds, what):
        self.values["reused_compute"] = self.values.get("reused_compute", 0.0) + seconds


def _row(name, placement, correct):
    c = np.asarray(correct, dtype=bool)
    return {
        "config": name,
        "placement": placement,
        "accuracy": 100 * c.mean(),
        "correct": study._pack(c),
        "n_test": len(c),
    }


def test_correctness_round_trips_through_the_packed_form():
    c = np.random.default_rng(0).random(1003) < 0.7
    assert np.array_equal(study.unpack_correct(_row("plain", "cloud", c)), c)


def test_orderings_are_judged_by_their_interval():
    rng = np.random.default_rng(1)
    n = 4000
    strong = rng.random(n) < 0.9
    weak = rng.random(n) < 0.6
    noisy = strong.copy()
    flip = rng.choice(n, 6, replace=False)
    noisy[flip] = ~noisy[flip]  # within a few images of "strong": no decidable difference
    results = {
        ("plain", "cloud"): _row("plain", "cloud", strong),
        ("step2", "cloud"): _row("step2", "cloud", noisy),
        ("step2_adapt", "cloud"): _row("step2_adapt", "cloud", weak),  # far worse: the opposite ordering
        ("tanaka", "cloud"): _row("tanaka", "cloud", weak),
    }
    run = FakeRun()
    study.record_training(run, results, [], full_scale=False, network="fastnet")
    c = run.checks
    assert c["pixel-beats-tanaka-in-cloud"]["status"] == "reproduced"  # 0.9 vs 0.6 on 4,000 images
    assert c["adaptation-helps-step2"]["status"] == "differs"  # 0.6 vs 0.9: the interval lies below 0
    assert c["plain-beats-encrypted"]["status"].startswith("needs a larger run")  # a few images apart
    assert "interval" in c["pixel-beats-tanaka-in-cloud"]["evidence"]
    assert c["table2-level-plain"]["status"].startswith("needs")  # another network: never a level verdict
    assert run.values["seed_spread"] is None and "not measured" in run.values["spread_note"]


def test_the_seed_spread_widens_the_interval():
    rng = np.random.default_rng(2)
    a = rng.random(2000) < 0.80
    b = rng.random(2000) < 0.77
    narrow = metrics.paired_difference(a, b)
    wide = metrics.paired_difference(a, b, seed_sd=0.01)
    assert wide["lo"] < narrow["lo"] and wide["hi"] > narrow["hi"]
    # the bootstrap standard error agrees with the analytic one of a mean of paired differences
    d = a.astype(float) - b.astype(float)
    se = d.std(ddof=1) / np.sqrt(d.size)
    assert (narrow["hi"] - narrow["lo"]) / (2 * 1.959964) == pytest.approx(se, rel=0.1)
    assert metrics.paired_difference(a, a)["lo"] == 0 == metrics.paired_difference(a, a)["hi"]
    assert metrics.ordering_verdict(metrics.paired_difference(a, a))[1] is not None


def test_rows_are_kept_reused_and_retrained_when_their_setting_changes(tmp_path, monkeypatch):
    from ppstudy import schedules

    d = study.load_data("smoke", 96, 48, 0)
    keys = study.make_keys(d["x_train"].shape[1:], seed=1)
    sched = schedules.triangle_sgd(1, batch_size=32)
    plan = study.planned_rows(["plain", "step2"], False)
    kw = dict(
        schedule=sched,
        width=16,
        seed=0,
        progress=False,
        network="fastnet",
        augment="recipe",
        row_cache=tmp_path / "rows",
    )
    first, not_run, reused = study.train_within_budget(plan, d, keys, **kw)
    assert set(first) == {("plain", "cloud"), ("step2", "cloud")} and not not_run and not reused
    assert len(list((tmp_path / "rows").glob("*.json"))) == 2

    def no_training(**_):
        raise AssertionError("a finished row was trained again")

    monkeypatch.setattr(study, "train_row", no_training)
    again, _, reused = study.train_within_budget(plan, d, keys, **kw)
    assert reused == plan and all(r.pop("from_row_cache") for r in again.values()) and again == first
    assert study.reused_seconds(first) == 0.0  # trained here, from scratch
    again, _, _ = study.train_within_budget(plan, d, keys, **kw)
    assert study.reused_seconds(again) == pytest.approx(sum(r["train_seconds"] for r in first.values()))
    calls = []
    monkeypatch.setattr(study, "train_row", lambda **a: calls.append(a["cfg"].name) or first[("plain", "cloud")])
    study.train_within_budget(plan, d, keys, **{**kw, "seed": 1})  # another seed: every row again
    assert calls == ["plain", "step2"]
    calls.clear()
    other_keys = study.make_keys(d["x_train"].shape[1:], seed=2)  # another key: the cipher row only
    study.train_within_budget(plan, d, other_keys, **kw)
    assert calls == ["step2"]


def test_factor_augmentations_are_the_paper_s_two_alone_and_a_rotation():
    paper = study.make_augment("paper")
    assert (study.make_augment("flip").pad, study.make_augment("flip").flip) == (0, True)
    assert (study.make_augment("shift").pad, study.make_augment("shift").flip) == (paper.pad, False)
    rot = study.make_augment("rotation")
    assert rot.rotate == study.ROTATION_DEGREES and not rot.flip and rot.pad == 0
    assert study.make_augment("none").pad == 0 and not study.make_augment("none").flip
    with pytest.raises(study.InputError):
        study.make_augment("crop")


def test_factor_study_trains_each_factor_in_client_and_cloud(tmp_path, monkeypatch):
    d = study.load_data("smoke", 96, 48, 0)
    keys = study.make_keys(d["x_train"].shape[1:], seed=1)
    seen = []

    def fake_row(**kw):
        seen.append((kw["cfg"].name, kw["placement"], kw["augment"], len(kw["data"]["x_train"]), kw["tta"]))
        c = np.zeros(len(kw["data"]["x_test"]), dtype=bool)
        c[: {"client": 40, "cloud": 10}[kw["placement"]] if kw["cfg"].name == "tanaka" else 30] = True
        return _row(kw["cfg"].name, kw["placement"], c)

    monkeypatch.setattr(study, "train_row", fake_row)
    from ppstudy import schedules

    res, not_run = study.factor_study(
        d,
        keys,
        factors=("flip", "shift"),
        n_train=64,
        schedule=schedules.triangle_sgd(1, batch_size=32),
        width=8,
        seed=0,
        progress=False,
        row_cache=tmp_path / "rows",
    )
    assert not not_run and len(res) == 8
    assert {s[2] for s in seen} == {"flip", "shift"} and {s[3] for s in seen} == {64} and {s[4] for s in seen} == {None}
    assert {(s[0], s[1]) for s in seen} == {(r, p) for r in ("step2", "tanaka") for p in ("client", "cloud")}
    rows = study.factor_rows(res, ("step2", "tanaka"), ("flip", "shift"))
    tan = [r for r in rows if r["encryption"] == study.CONFIGS["tanaka"].label and r["augmentation"] == "shift"][0]
    assert tan["cost of the cloud (points)"] == pytest.approx(100 * 30 / 48)  # 40 vs 10 of 48 images
    run = FakeRun()
    study.record_factors(run, res, not_run, factors=("flip", "shift"))
    # Tanaka loses 30 of 48 images, step 2 nothing: the difference of differences lies above 0
    assert run.checks["shift-splits-tanaka-blocks"]["status"] == "reproduced"
    run = FakeRun()
    study.record_factors(run, {}, [], factors=("shift",))
    assert run.checks["shift-splits-tanaka-blocks"]["status"].startswith("needs")
    assert study.budget_left(100.0, {("a", "cloud"): {"train_seconds": 30.0}}, []) == 70.0
    assert study.budget_left(100.0, {("a", "cloud"): {"train_seconds": 30.0}}, [("a", "cloud")]) == 100.0
    resumed = {("a", "cloud"): {"train_seconds": 30.0, "resumed_seconds": 20.0}}  # 20 s by an earlier process
    assert study.budget_left(100.0, resumed, []) == 90.0 and study.reused_seconds(resumed) == 20.0
    assert (
        study.budget_left(0.0, {}, []) == 0.0
        and 0 < study.budget_left(10.0, {("a", "cloud"): {"train_seconds": 30.0}}, []) < 1e-6
    )


def test_training_curves_take_only_the_epochs_that_were_scored():
    history = [
        {"epoch": 1, "train_acc": 0.5, "test_acc": None},
        {"epoch": 2, "train_acc": 0.6},
        {"epoch": 3, "train_acc": 0.7, "test_acc": 0.65},
    ]
    assert study.curve_points(history, "test_acc") == ([3], [65.0])
    assert study.curve_points(history, "train_acc") == ([1, 2, 3], [50.0, 60.0, 70.0])
    manifest = {"values": {"training_runs": [{"config": "plain", "placement": "cloud", "history": history}]}}
    fig = study.fig_training_curves(manifest, None)  # a row scored once, after its last epoch, draws
    assert [len(line.get_xdata()) for line in fig.axes[0].lines][:2] == [3, 1]
