"""The de-identification study on small inputs with known answers: the indices and their intervals, the
tables as displayed, and every check judged from result values (not table cells)."""

from __future__ import annotations

import numpy as np
import pytest

from ppstudy import metrics as M
from ppstudy.ciphers import deid, ope
from ppstudy.studies import deid as study

KEY = ope.OPEKey(b"deid-test-key-0123456789", (-500, 500), (-5000, 5000))


class FakeRun:
    """What the record functions use of :class:`ppstudy.kernel.run.Run`."""

    def __init__(self, smoke: bool = False):
        self.checks: dict = {}
        self.values: dict = {}
        self.arrays_saved: dict = {}
        self.smoke = smoke

    def check(self, name, claim, passed, **kw):
        from ppstudy.manifest.status import check_status

        rec = {"claim": claim, "passed": bool(passed), "kind": kw.get("kind", "claim"), "smoke": self.smoke}
        rec.update({k: kw.get(k) for k in ("paper", "measured", "evidence", "needs")})
        rec["status"] = check_status(rec)
        self.checks[name] = rec

    def value(self, name, v, fmt=None):
        self.values[name] = v

    def arrays(self, name, **arrays):
        self.arrays_saved[name] = arrays

    def reused_compute(self, seconds, what):
        self.values["reused_compute"] = self.values.get("reused_compute", 0.0) + seconds


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PPSTUDY_DATA", str(tmp_path))


def _indices(vec, dei, l2, alpha=0.5):
    return study.summarise({"SSIM_vec": np.array(vec), "SSIM_dei": np.array(dei), "L2norm_dei": np.array(l2)}, alpha)


def test_mean_ci_is_the_student_t_interval():
    lo, hi = study.mean_ci([1.0, 3.0])  # mean 2, sd sqrt(2), n 2: t(0.975, 1) = 12.706
    assert (lo, hi) == pytest.approx((2 - 12.7062, 2 + 12.7062), abs=1e-3)
    assert study.mean_ci([5.0]) == (5.0, 5.0)
    assert study.mean_ci([0.25] * 7) == pytest.approx((0.25, 0.25), abs=1e-15)


def test_summarise_gives_the_papers_indices_and_per_image_intervals():
    r = _indices([0.8, 0.6], [0.4, 0.2], [0.2, 0.4])
    # per image: SSIM_pos = -0.4, DI = 0.5 * dei + 0.5 * l2 = 0.3, SDIM = -0.1 (both images alike)
    assert r["SSIM_pos"] == pytest.approx(-0.4) and r["DI"] == pytest.approx(0.3) and r["SDIM"] == pytest.approx(-0.1)
    want = M.deid_indices_from({"SSIM_vec": [0.8, 0.6], "SSIM_dei": [0.4, 0.2], "L2norm_dei": [0.2, 0.4]})
    for c in study.TABLE2_COLUMNS:
        assert r[c] == pytest.approx(want[c], abs=1e-12)
    assert r["ci95"]["SDIM"] == pytest.approx([-0.1, -0.1], abs=1e-12)  # no spread, no width
    assert r["ci95"]["SSIM_vec"] == pytest.approx([0.7 - 1.27062, 0.7 + 1.27062], abs=1e-4)
    np.testing.assert_allclose(r["per_image"]["SDIM"], [-0.1, -0.1])


def test_table2_rows_label_sizes_and_put_the_paper_beside():
    t2 = {50: _indices([0.7], [0.3], [0.25]), 51: _indices([0.7], [0.3], [0.25])}
    rows = study.table2_rows(t2)
    assert [r["size"] for r in rows] == ["50x50", "51x51"]
    assert rows[0]["paper SSIM_dei"] == study.PAPER_TABLE2[50][1] and rows[1]["paper SSIM_dei"] is None
    assert rows[0]["measured SDIM"] == pytest.approx(t2[50]["SDIM"])


def _table2(sdim_best: int, dei_shift: float = 0.03) -> dict:
    """Sizes 32..100 at the paper's SSIM_vec, SSIM_dei shifted by ``dei_shift``, L2 chosen so that SDIM is
    lowest at ``sdim_best``; three images per size with a small spread."""
    out = {}
    for s in (32, 42, 50, 64, 100):
        p = study.PAPER_TABLE2[s]
        vec, dei = p[0], p[1] + dei_shift
        l2 = 0.1 if s == sdim_best else 0.3
        out[s] = _indices([vec - 0.01, vec, vec + 0.01], [dei] * 3, [l2] * 3)
    return out


def test_record_table2_reads_numbers_not_labels():
    run = FakeRun()
    study.record_table2(run, _table2(sdim_best=64))
    c = run.checks
    assert c["sdim-minimum-at-50"]["passed"] is False and c["sdim-minimum-at-50"]["measured"] == "64x64"
    assert run.values["sdim_argmin_size"] == "64 x 64"
    assert c["table2-ssim-dei-level"]["passed"] and run.values["table2_max_gap_ssim_dei"] == pytest.approx(0.03)
    assert c["table2-ssim-dei-level"]["kind"] == "claim" and c["loss-from-ope-step"]["kind"] == "claim"
    # at 50: SSIM_vec 0.7705, SSIM_dei 0.3655: OPE loss 0.405 > tracing loss 0.2295
    assert c["loss-from-ope-step"]["passed"]
    ev = c["loss-from-ope-step"]["evidence"]
    assert ev["OPE-step loss minus tracing loss"]["mean"] == pytest.approx(0.405 - 0.2295, abs=1e-9)
    assert ev["shown_in"] == ["table2", "fig_table2"]
    assert list(run.arrays_saved["table2"]["size"]) == [32, 42, 50, 64, 100]
    run2 = FakeRun()
    study.record_table2(run2, _table2(sdim_best=50, dei_shift=0.08))
    assert run2.checks["sdim-minimum-at-50"]["passed"] and not run2.checks["table2-ssim-dei-level"]["passed"]


def test_every_check_carries_evidence():
    run = FakeRun()
    study.record_ope(run, _ope_res([-796, -796, -10, -5]))
    study.record_table2(run, _table2(sdim_best=50))
    study.record_seams(run, _mech(0.1))
    study.record_table5(run, _t5(gray_higher=True))
    study.record_warp(run, _warp(20.0))
    study.record_security(run, _sec(), _mech(0.1))
    study.record_classification(run, *_classification(40.0), **_CLS)
    assert len(run.checks) >= 12
    for name, c in run.checks.items():
        assert isinstance(c["evidence"], dict) and c["evidence"], name


def _mech(rise: float, n: int = 8) -> dict:
    rng = np.random.default_rng(0)
    base = 0.35 + 0.02 * rng.standard_normal(n)
    per = {
        "paper": base,
        "scaled": base + rise + 0.02 * (-1.0) ** np.arange(n),  # the mean rise is exactly ``rise``
        "literal": base - 0.1,
    }
    return {
        "variants": {
            k: {
                **_indices(np.full(n, 0.7), v, np.full(n, 0.25)),
                "rendered": np.arange(n),
                "uncovered": 0.1,
                "gaussian": {"SSIM_vec": 0.75, "SSIM_dei": 0.4},
            }
            for k, v in per.items()
        },
        "n": n,
        "size": 50,
        "shown": {},
    }


def test_record_seams_judges_the_paired_rise_by_its_interval():
    run = FakeRun()
    study.record_seams(run, _mech(0.1))
    assert run.checks["seams-cause-loss"]["passed"]
    assert run.values["seam_ssim_rise"] == pytest.approx(0.1, abs=0.01)
    run = FakeRun()
    study.record_seams(run, _mech(0.055))  # above the bar on average, but not its whole interval
    assert not run.checks["seams-cause-loss"]["passed"]


def test_ssim_gaussian_is_wangs_window():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (2, 24, 24, 3), dtype=np.uint8)
    y = np.clip(x.astype(int) + rng.integers(-40, 41, x.shape), 0, 255).astype(np.uint8)
    got = study.ssim_gaussian(x, y)
    want = structural_similarity(
        x[1], y[1], data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert got[1] == pytest.approx(want, abs=1e-12) and got.shape == (2,)
    assert abs(got[0] - M.ssim_images(x[:1], y[:1])[0]) > 1e-3  # another window, another number
    assert study.ssim_gaussian(x[..., 0], x[..., 0]) == pytest.approx([1.0, 1.0])


def test_mechanism_rows_come_from_the_variants():
    rows = study.mechanism_rows(_mech(0.1))
    assert [r["pipeline"] for r in rows] == [v[0] for v in study.MECHANISM_VARIANTS.values()]
    assert rows[0]["measured: images rendered"] == "8 of 8"


def _t5(gray_higher: bool, n: int = 12, dei_rise: float = 0.0) -> dict:
    rng = np.random.default_rng(1)
    vec = 0.7 + 0.02 * rng.standard_normal(n)
    d = 0.05 if gray_higher else -0.05
    rgb = _indices(vec, np.full(n, 0.35), np.full(n, 0.25))
    # SDIM = 1.5 SSIM_dei - SSIM_vec + 0.5 L2: it falls by d when SSIM_vec rises by d, unless SSIM_dei rises
    gray = _indices(vec + d, np.full(n, 0.35 + dei_rise), np.full(n, 0.25))
    return {"rgb": rgb, "gray": gray, "size": 50, "out_size": 224}


def test_record_table5_checks_the_papers_pattern():
    run = FakeRun()
    study.record_table5(run, _t5(gray_higher=True))
    assert run.checks["table5-gray-pattern"]["passed"] and run.checks["table5-gray-pattern"]["kind"] == "paper"
    assert run.values["gray_minus_rgb_sdim"] == pytest.approx(-0.05)
    run = FakeRun()
    study.record_table5(run, _t5(gray_higher=False))
    assert not run.checks["table5-gray-pattern"]["passed"]
    run = FakeRun()
    study.record_table5(run, _t5(gray_higher=True, dei_rise=0.1))  # SSIM_vec higher, but SDIM higher too
    assert not run.checks["table5-gray-pattern"]["passed"] and run.values["gray_minus_rgb_sdim"] > 0
    rows = study.table5_rows(_t5(True))
    assert [r["index"] for r in rows] == list(study.PAPER_TABLE5) and rows[0]["paper: gray"] == 0.8112


def test_table5_takes_rgb_from_table2_and_traces_gray(monkeypatch):
    calls = []

    def fake_indices_at(images, key, settings, **kw):
        calls.append(images.ndim)
        return {"SSIM_vec": float(images.mean())}, {}

    monkeypatch.setattr(study, "indices_at", fake_indices_at)
    x = np.full((2, 8, 8, 3), 90, np.uint8)
    st = deid.Settings(size=24, out_size=48)
    t5 = study.table5(x, KEY, st, table2={24: {"SSIM_vec": 0.5}})
    assert t5["rgb"] == {"SSIM_vec": 0.5} and calls == [3]  # only the gray batch (N x H x W) is traced
    assert t5["gray"]["SSIM_vec"] == pytest.approx(90.0)  # BT.601 luma of a gray (90, 90, 90) is 90
    t5 = study.table5(x, KEY, st, table2={50: {"SSIM_vec": 0.5}})
    assert calls == [3, 4, 3] and t5["rgb"]["SSIM_vec"] == pytest.approx(90.0)


def _warp(max_dev: float) -> dict:
    return {
        "x": np.arange(3),
        "landed": np.array([0.0, 100, 224]),
        "linear": np.array([0.0, 112, 224]),
        "max_dev_px": max_dev,
        "mean_dev_px": max_dev / 2,
        "size": 50,
        "out_size": 224,
        "gap_px_min": 0.5,
        "gap_px_max": 18.0,
        "gap_px_mean": 4.48,
        "gap_cv": 0.84,
        "domain_gap_mean": 10.0,
        "domain_gap_cv": 0.86,
        "geometric_cv": 0.95,
        "domain_gap_median": 7.0,
        "geometric_median": 7.0,
        "domain_gap_q90": 21.0,
        "geometric_q90": 22.0,
        "exercise": [{"out_range": [-10, 10], "max_dev_px": 1.0, "gap_cv": 0.5}],
    }


def test_record_warp_bar_is_a_sixth_of_the_side():
    run = FakeRun()
    study.record_warp(run, _warp(37.0))  # 224 / 6 = 37.33
    assert run.checks["ope-warp-small"]["passed"] and run.checks["ope-warp-small"]["kind"] == "claim"
    run = FakeRun()
    study.record_warp(run, _warp(38.0))
    assert not run.checks["ope-warp-small"]["passed"]
    assert run.values["warp_bar_px"] == pytest.approx(224 / 6) and run.values["exercise_range_0"] == "±10"


def test_warp_study_gaps_are_those_of_the_table():
    w = study.warp_study(KEY, 24, 48, exercise_ranges=((-5000, 5000), (-50000, 50000)))
    gaps = np.diff(w["landed"])
    assert w["gap_px_min"] == pytest.approx(gaps.min()) and w["gap_px_max"] == pytest.approx(gaps.max())
    assert w["gap_px_mean"] == pytest.approx(48 / 24)  # the gaps of f / f(size) * out add up to the side
    t = ope.table(KEY)
    assert w["domain_gap_mean"] == pytest.approx((t[-1] - t[0]) / (len(t) - 1))
    assert w["geometric_cv"] == pytest.approx(np.sqrt(1 - 1 / w["domain_gap_mean"]))
    assert [e["out_range"] for e in w["exercise"]] == [[-5000, 5000], [-50000, 50000]]


def test_offsets_give_the_papers_published_offset():
    (r,) = study.offsets(ope.PAPER_KEY, [(-9999, 9999)])
    assert r["enc0"] == ope.PAPER_OFFSET and r["canvas_32"] == deid.canvas_size(ope.paper_key(), 32)
    rows = study.offset_rows([r])
    assert rows[0]["input range"] == "-9999..9999" and rows[0]["measured: Enc(0)"] == ope.PAPER_OFFSET


def _ope_res(enc0s, canvas=331, mismatches=0):
    ranges = [(-9998, 9998), (-10200, 10200), (-999, 999), (-30000, 30000)]
    return {
        "build_s": 1.0,
        "n_probe": 50,
        "probe_mismatches": mismatches,
        "offsets": [{"in_range": r, "enc0": e, "canvas_32": 300} for r, e in zip(ranges, enc0s)],
        "canvas_32": canvas,
    }


def test_record_ope():
    run = FakeRun(smoke=True)
    study.record_ope(run, _ope_res([-796, -796, -10, -5]))
    c = run.checks
    assert c["offset-pins-1e4"]["passed"] and c["ope-table-is-pyope"]["status"] == "exact"
    assert c["canvas-width-fig6"]["passed"] is False and run.values["offset_ranges"] == "-9998..9998, -10200..10200"
    run = FakeRun()
    study.record_ope(run, _ope_res([-796, -10, -10, -796], canvas=291, mismatches=1))
    c = run.checks
    assert not c["offset-pins-1e4"]["passed"]  # a range of +-30,000 gives it too: the offset pins nothing
    assert c["canvas-width-fig6"]["passed"] and c["ope-table-is-pyope"]["status"] == "fails"


def test_ope_study_matches_pyope_on_a_small_key():
    res = study.ope_study(KEY, n_probe=20, candidates=[(-9999, 9999)])
    assert res["probe_mismatches"] == 0 and res["offsets"][0]["enc0"] == ope.PAPER_OFFSET
    assert res["canvas_32"] == deid.canvas_size(KEY, 32)


def _variant(ssim, to_vec, exact=None):
    return {
        "ssim": ssim,
        "ssim_ci95": [ssim - 0.01, ssim + 0.01],
        "ssim_to_vector": to_vec,
        "l2": 0.2,
        "coord_mae": None if exact is None else 0.3,
        "coord_exact": exact,
    }


def _sec(spline_rank_to_vec=0.5):
    v = {
        "vector": _variant(0.71, 1.0),
        "released": _variant(0.36, 0.6),
        "back": _variant(0.4, 0.62),
        "rank": _variant(0.45, spline_rank_to_vec, exact=0.005),
        "linear": _variant(0.5072, 0.7, exact=0.0),
        "poly_vector": _variant(0.65, 1.0),
        "poly_released": _variant(0.35, 0.6),
        "poly_rank": _variant(0.6, 0.89, exact=0.66),
    }
    return {"variants": v, "deterministic": True, "n_repeat": 4, "n": 24, "examples": {}}


def test_record_security_per_tracer():
    run = FakeRun()
    study.record_security(run, _sec(), _mech(0.157))
    c = run.checks
    assert c["leaked-svg-inverted"]["passed"] and not c["leaked-svg-inverted-imagetracer"]["passed"]
    assert run.values["rank_exact_pct"] == pytest.approx(66) and run.values["rank_exact_pct_imagetracer"] == 0.5
    assert c["deterministic"]["kind"] == "exact" and c["deterministic"]["status"] == "exact"
    # (0.5072 - 0.36) / (0.71 - 0.36) of the gap
    assert run.values["linear_inversion_gap_share"] == pytest.approx(100 * 0.1472 / 0.35)
    run = FakeRun()
    study.record_security(run, _sec(spline_rank_to_vec=0.65))
    assert run.checks["leaked-svg-inverted-imagetracer"]["passed"] and "linear-inversion-covers-seams" not in run.checks
    rows = study.security_rows(_sec())
    assert [r["tracer"] for r in rows].count("vtracer") == 3
    assert rows[3]["measured coordinates recovered exactly (%)"] == pytest.approx(0.5)


_CLS = dict(size=50, out=48, arch="test_resnet", epochs=3, schedule="rmsprop")


def _classification(transfer_acc: float, n: int = 200):
    rng = np.random.default_rng(2)

    def res(acc):
        c = rng.random(n) < acc / 100
        return {"accuracy": 100 * c.mean(), "correct": c, "also": {}}

    results = {("plain", 48): res(70), ("dei", 50, 48): res(50), ("pixel", 48): res(30)}
    k = int(round(transfer_acc * n / 100))
    t = np.zeros(n, bool)
    t[:k] = True
    results[("plain", 48)]["also"]["deid"] = {"accuracy": 100 * t.mean(), "correct": t}
    data = {"x_train": np.zeros((400, 2)), "x_test": np.zeros((n, 2)), "classes": tuple(range(10))}
    return results, [], data


def test_transfer_is_judged_against_chance_with_its_interval():
    run = FakeRun()
    study.record_classification(run, *_classification(20.0), **_CLS)  # 40 of 200: 95% interval 14.7-26.2
    c = run.checks["plain-model-recognises-deid"]
    assert c["passed"] and run.values["transfer_ci"] == "14.7–26.2" and run.values["chance_accuracy"] == 10
    run = FakeRun()
    study.record_classification(run, *_classification(13.0), **_CLS)  # 26 of 200: 8.7-18.5, holds 10
    assert not run.checks["plain-model-recognises-deid"]["passed"]
    assert run.checks["table6-ordering"]["status"] == "needs a GPU run at the paper's scale"
    rows = study.transfer_rows(_classification(20.0)[0], 50, 48)
    assert [r["measured: accuracy (%)"] for r in rows][1] == pytest.approx(20.0)


def test_paper_scale_needs_the_papers_data_size_network_and_schedule():
    full = {"x_train": np.zeros((50_000, 1))}
    kw = dict(out=224, arch="inception_resnet_v2", epochs=675, schedule="rmsprop")
    assert study.paper_scale(full, **kw)
    assert not study.paper_scale(full, **{**kw, "epochs": 30})
    assert not study.paper_scale(full, **{**kw, "schedule": "fast"})  # one-cycle SGD, not the paper's RMSprop
    assert not study.paper_scale({"x_train": np.zeros((2000, 1))}, **kw)
    assert not study.paper_scale(full, **{**kw, "out": 64})


def test_the_plain_classifier_is_also_scored_on_the_deidentified_test_images(monkeypatch):
    seen = {}

    def fake_train_eval(xtr, ytr, xte, yte, *, also_test=None, tag="", **kw):
        seen[tag] = (xte, dict(also_test or {}))
        return {"accuracy": 50.0, "correct": np.ones(len(xte), bool), "also": {}}

    def fake_pipeline(x, key, settings, outputs=(), workers=1):
        return {o: np.full((len(x), settings.out_size, settings.out_size, 3), 7, np.uint8) for o in outputs}

    monkeypatch.setattr(study, "train_eval", fake_train_eval)
    monkeypatch.setattr(study.deid, "pipeline", fake_pipeline)
    rng = np.random.default_rng(0)
    data = {
        "x_train": rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8),
        "y_train": np.arange(4),
        "x_test": rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8),
        "y_test": np.arange(3),
        "classes": tuple(range(4)),
    }
    plan = [("plain", 48), ("dei", 50, 48)]
    results, not_run = study.run_classification(plan, data, KEY, settings=deid.Settings(), train_kw={})
    assert not not_run and set(results) == set(plan)
    plain_test, also = seen["plain-48"]
    assert plain_test.shape == (3, 48, 48, 3) and list(also) == ["deid"]
    assert (also["deid"] == 7).all() and also["deid"].shape == (3, 48, 48, 3)
    dei_test, back = seen["dei-50-48"]
    assert list(back) == ["plain"] and back["plain"].shape == (3, 48, 48, 3)  # and the reverse transfer
    np.testing.assert_array_equal(back["plain"], plain_test)


def _agreement(gap: float) -> dict:
    idx = {c: 0.3 for c in study.TABLE2_COLUMNS}
    return {
        "renderer": "skia-magick",
        "indices": {**idx, "SSIM_vec": 0.3 + gap},
        "paper_command": idx,
        "diff": {**{c: 0.0 for c in study.TABLE2_COLUMNS}, "SSIM_vec": gap},
        "n": 8,
        "size": 50,
    }


def test_record_renderer_holds_within_the_tolerance_on_every_index():
    run = FakeRun()
    study.record_renderer(run, _agreement(-0.004), "skia-magick")
    c = run.checks["renderer-agrees-with-convert"]
    assert c["passed"] and run.values["renderer_gap"] == "0.0040 (SSIM_vec)" and c["evidence"]["images"] == 8
    run = FakeRun()
    study.record_renderer(run, _agreement(0.006), "skia-magick")
    assert not run.checks["renderer-agrees-with-convert"]["passed"]
    run = FakeRun()
    study.record_renderer(run, None, "resvg")
    c = run.checks["renderer-agrees-with-convert"]
    assert c["status"].startswith("needs a run with ImageMagick") and run.values["renderer_check_images"] == 0


@pytest.mark.skipif(deid.imagemagick_executable() is None, reason="ImageMagick's convert is not installed")
def test_renderer_agreement_of_the_papers_command_with_itself_is_exact():
    rng = np.random.default_rng(6)
    x = np.repeat(np.repeat(rng.integers(0, 256, (2, 4, 4, 3), dtype=np.uint8), 4, axis=1), 4, axis=2)
    st = deid.Settings(size=16, out_size=32, tracer="vtracer", renderer="imagemagick")
    a = study.renderer_agreement(x, KEY, st)
    assert a["n"] == 2 and all(v == 0 for v in a["diff"].values())
    b = study.renderer_agreement(x, KEY, deid.Settings(size=16, out_size=32, tracer="vtracer", renderer="resvg"))
    assert b["paper_command"] == a["paper_command"] and any(v != 0 for v in b["diff"].values())


def _factor(d_vec: float, d_sdim: float, n: int = 10) -> dict:
    return {
        "SSIM_vec": {"mean": d_vec, "ci95": [d_vec - 0.01, d_vec + 0.01]},
        "SDIM": {"mean": d_sdim, "ci95": [d_sdim - 0.01, d_sdim + 0.01]},
        "n": n,
    }


def test_record_gray_factors_names_the_cause_that_gives_the_papers_pattern():
    run = FakeRun()
    study.record_gray_factors(run, {"chapter": _factor(-0.02, 0.03), "after": _factor(0.05, -0.04)})
    c = run.checks["gray-pattern-cause-found"]
    assert (
        c["passed"] and c["measured"] == "after" and run.values["gray_factors_giving_pattern"] == "gray after rendering"
    )
    assert (
        run.values["gray_factor_paper_renderer_sdim"] == "— (not run)" and run.values["gray_factor_after_images"] == 10
    )
    run = FakeRun()
    study.record_gray_factors(run, {"chapter": _factor(0.05, -0.04), "after": _factor(0.05, 0.0)})
    assert not run.checks["gray-pattern-cause-found"]["passed"]  # the chapter's own pipeline is no cause
    rows = study.gray_factor_rows({"chapter": _factor(-0.02, 0.03)})
    assert rows[0]["paper: gray - RGB SSIM_vec"] == pytest.approx(0.8112 - 0.7705) and rows[1]["images"] is None


def test_gray_factors_pair_gray_and_rgb_on_the_same_images():
    rng = np.random.default_rng(7)
    x = np.repeat(np.repeat(rng.integers(0, 256, (3, 4, 4, 3), dtype=np.uint8), 4, axis=1), 4, axis=2)
    st = deid.Settings(size=16, out_size=32, tracer="vtracer")
    f = study.gray_factors(x, KEY, st, n_paper_renderer=0)
    assert set(f) == {"chapter", "after"} and f["chapter"]["n"] == 3
    t5 = study.table5(x, KEY, st)
    want = t5["gray"]["per_image"]["SDIM"] - t5["rgb"]["per_image"]["SDIM"]
    assert f["chapter"]["SDIM"]["mean"] == pytest.approx(want.mean(), abs=1e-12)
    assert f["after"]["SSIM_vec"]["mean"] != pytest.approx(f["chapter"]["SSIM_vec"]["mean"], abs=1e-9)


def test_a_resumed_training_reports_the_seconds_an_earlier_invocation_spent(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (32, 16, 16, 3)).astype(np.uint8), np.arange(32) % 2
    kw = dict(arch="test_resnet", epochs=2, batch_size=16, num_classes=2, checkpoint_dir=tmp_path, progress=False)
    first = study.train_eval(x, y, x[:8], y[:8], **kw)
    assert first["resumed_seconds"] == 0.0 and first["train_seconds"] > 0
    again = study.train_eval(x, y, x[:8], y[:8], **kw)  # both epochs come from the checkpoint
    assert again["resumed_seconds"] == pytest.approx(first["train_seconds"]) == again["train_seconds"]
    run = FakeRun()
    results, not_run, data = _classification(40.0)
    results[("plain", 48)]["resumed_seconds"] = 120.0
    study.record_classification(run, results, not_run, data, **_CLS)
    assert run.values["reused_compute"] == 120.0
