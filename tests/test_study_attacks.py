"""The attacks chapter's study module: every cell filled or given a reason, known answers on toy data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.ndimage import gaussian_filter

from ppstudy import InputError
from ppstudy.studies import attacks as study


def toy_data(n_train: int = 40, n_test: int = 24, seed: int = 0) -> dict:
    """Smooth, non-periodic colour images (blurred noise and a ramp) with two labels."""
    rng = np.random.default_rng(seed)

    def images(n):
        noise = gaussian_filter(rng.normal(0, 1, (n, 32, 32, 3)), (0, 2.5, 2.5, 0))
        ramp = np.mgrid[0:32, 0:32].sum(0)[None, :, :, None] * 1.5
        return np.clip(np.rint(90 + 50 * noise / noise.std() + ramp), 0, 255).astype(np.uint8)

    return {
        "x_train": images(n_train),
        "y_train": np.arange(n_train) % 2,
        "x_test": images(n_test),
        "y_test": np.arange(n_test) % 2,
        "classes": ("a", "b"),
    }


SMALL = study.Setting(draws=3, images_per_draw=2, keyrec_images=2, prior_images=40, kp_max_pairs=4)


def test_every_cell_has_an_attack_or_a_reason():
    for s, scheme in study.SCHEMES.items():
        for a in study.ATTACKS:
            reason = study.no_attack_reason(scheme, a)
            if reason is None:
                assert hasattr(study.Attacker, "_" + a.replace("-", "_")), (s, a)
                assert study.cipher_of(scheme) is not None, s
            else:
                assert isinstance(reason, str) and reason, (s, a)
    assert all(study.no_attack_reason(study.SCHEMES["bfv"], a) for a in study.ATTACKS)  # the ceiling
    with pytest.raises(InputError):
        study.no_attack_reason(study.SCHEMES["etc8"], "nonsense")


def test_known_plaintext_and_the_cat_map_are_exact_on_toy_data():
    att = study.Attacker(toy_data(), None, SMALL, progress=False)
    cells = study.run_cells(att, ["pixel2", "catmap-tile8", "tanaka"], ["released", "keyrec", "kp", "fold"])
    for s in ("pixel2", "catmap-tile8", "tanaka"):
        sm = cells[(s, "kp")].summary()
        assert sm["draws"] == SMALL.draws and sm["ssim"] == (1.0, 1.0, 1.0) and sm["exact_draws"] == SMALL.draws
        assert all(p <= SMALL.kp_max_pairs for p in cells[(s, "kp")].extra["pairs"])
    key = cells[("catmap-tile8", "keyrec")]
    assert key.extra["whole_key"] == [1.0] * SMALL.draws and key.summary()["ssim"][0] == 1.0
    from ppstudy.attacks import fold
    from ppstudy.metrics import ssim_images

    for d, got in enumerate(cells[("pixel2", "fold")].ssim):  # step 2's fold is the plain image's fold
        x = att.data["x_test"][att._images(d, SMALL.images_per_draw)]
        assert got == pytest.approx(ssim_images(x, fold.fold(x)).mean())
    assert not cells[("tanaka", "released")].measured and not cells[("catmap-tile8", "fold")].measured


def test_draws_share_their_images_across_schemes_and_attacks():
    att = study.Attacker(toy_data(), None, SMALL, progress=False)
    a, b = att._images(1, 5), att._images(1, 3)
    assert np.array_equal(a[:3], b) and not np.array_equal(att._images(0, 5), a)
    assert att.example_index() == att._images(0, 1)[0]
    one = att._images(0, 4, classes=[1])
    assert (att.data["y_test"][one] == 1).all()


def test_tables_mark_reasons_and_list_measured_cells():
    att = study.Attacker(toy_data(), None, SMALL, progress=False)
    schemes, attacks = ["pixel2", "bfv"], ["released", "fold", "kp"]
    cells = study.run_cells(att, schemes, attacks)
    m = study.matrix_rows(cells, schemes, attacks)
    assert m[1]["known plaintext"].startswith("no such attack: ")
    assert m[0]["known plaintext"] == "1.00"
    rows = study.cell_rows(cells)
    assert {r["scheme"] for r in rows} == {study.SCHEMES["pixel2"].label} and len(rows) == 3
    kp = study.kp_rows(cells, schemes)
    assert len(kp) == 1 and kp[0]["measured: whole key (draws)"] == SMALL.draws
    with pytest.raises(InputError):
        study.run_cells(att, ["nope"], attacks)


def test_mean_interval():
    v = [0.2, 0.4, 0.5, 0.9]
    m, lo, hi = study.mean_interval(v)
    ref = stats.t.interval(0.95, len(v) - 1, loc=np.mean(v), scale=stats.sem(v))
    assert m == pytest.approx(np.mean(v)) and (lo, hi) == pytest.approx(ref)
    assert math.isnan(study.mean_interval([0.3])[1]) and study.mean_interval([1.0, 1.0]) == (1.0, 1.0, 1.0)
    assert study.psnr(np.zeros(4, np.uint8), np.zeros(4, np.uint8)) == math.inf
    assert study.psnr(np.zeros(4, np.uint8), np.full(4, 255, np.uint8)) == 0.0


def test_leakage_counts_only_ciphertext_only_attacks():
    c_kp = study.Cell("pixel2", "kp", correct=[True] * 10, ssim=[1.0, 1.0])
    c_fold = study.Cell("pixel2", "fold", correct=[True, False] * 5, ssim=[0.3, 0.4])
    cells = {("pixel2", "kp"): c_kp, ("pixel2", "fold"): c_fold}
    rows = study.leakage_rows(cells, ["pixel2"], ["fold", "kp"], plain_acc=0.9, chance=0.1)
    assert rows[0]["best attack"] == study.ATTACKS["fold"].label
    assert rows[0]["measured: leakage"] == pytest.approx((0.5 - 0.1) / (0.9 - 0.1))


def test_utility_is_read_from_the_published_runs():
    from ppstudy.manifest.store import load
    from ppstudy.pipeline.publish import published_run

    rows = study.published_utility(list(study.SCHEMES))
    by = {r["name"]: r for r in rows}
    assert "bfv" not in by and "etc8" not in by  # no published CIFAR-10 accuracy
    m = load(published_run("pixel"))
    table = {r["encryption"]: r["measured: accuracy (%)"] for r in m["tables"]["table2"]["rows"]}
    plain = table["Plain image"]
    r = by["etc4"]
    assert r["profile"] == m["profile"] and r["commit"] == m["git"]["commit"][:10]
    assert r["measured: utility"] == pytest.approx((table["EtC [9, 10]"] - 10) / (plain - 10))
    best2 = max(table["Proposed (step 2) without adaptation"], table["Proposed (step 2) with adaptation"])
    assert by["pixel2"]["measured: accuracy (%)"] == best2


def test_record_makes_a_check_per_claim(tmp_path):
    import dataclasses

    from ppstudy.kernel.run import Run

    six = dataclasses.replace(SMALL, draws=6)  # 6 of 6: the 95% interval of the rate lies above 1/2
    att = study.Attacker(toy_data(), None, six, progress=False)
    schemes, attacks = ["pixel2", "catmap-tile8"], ["released", "keyrec", "kp", "fold"]
    cells = study.run_cells(att, schemes, attacks)
    for c in cells.values():  # a classifier that is always right, for the leakage checks
        c.correct = [True] * (len(c.ssim) * six.images_per_draw) if c.measured else []
    one = study.class_draws(att, schemes, [0, 1], draws_per_class=1)
    run = Run("attacks", "quick", {}, tmp_path, data="toy")
    study.record(run, cells, one, schemes, attacks, {"accuracy": 0.9}, 0.5, six)
    checks = run.manifest["checks"]
    assert checks["kp-whole-key"]["passed"] and checks["keyrec-catmap-tile8"]["passed"]
    assert {"leaks-pixel2", "leaks-catmap-tile8", "keyrec-pixel2"} <= set(checks)
    assert all(c["evidence"]["shown_in"] for c in checks.values())
    assert len(study.class_rows(cells, one)) == 2 * len(one)


def toy_faces(n: int = 48, seed: int = 1) -> dict:
    """One-channel 48 x 40 smooth images standing in for faces, three 'persons'."""
    rng = np.random.default_rng(seed)
    noise = gaussian_filter(rng.normal(0, 1, (2 * n, 48, 40, 1)), (0, 2.5, 2.5, 0))
    ramp = np.mgrid[0:48, 0:40].sum(0)[None, :, :, None] * 1.2
    x = np.clip(np.rint(90 + 50 * noise / noise.std() + ramp), 0, 255).astype(np.uint8)
    y = np.arange(2 * n) % 3
    return {"x_train": x[:n], "y_train": y[:n], "x_test": x[n:], "y_test": y[n:], "classes": ("a", "b", "c")}


def test_the_face_schemes_run_on_one_channel_faces_with_known_answers():
    att = study.Attacker(toy_faces(), None, SMALL, progress=False)
    assert att.shape == (48, 40, 1)
    cells = study.run_cells(att, list(study.FACE_SCHEMES), ["released", "kp", "fold", "inv-target"])
    kp = cells[("etc8", "kp")]
    sm = kp.summary()  # known plaintext decrypts fresh faces exactly
    assert sm["ssim"] == (1.0, 1.0, 1.0) and sm["exact_draws"] == SMALL.draws
    assert kp.example.shape == (48, 40, 1)
    assert cells[("etc8", "released")].summary()["ssim"][0] < 0.5  # the scrambled face is not the face
    assert cells[("etc8", "inv-target")].example.shape == (48, 40, 1)  # a one-channel inversion network
    assert not cells[("etc8", "fold")].measured
    assert all(not cells[("bfv", a)].measured for a in ("released", "kp", "fold", "inv-target"))
    with pytest.raises(InputError, match="face scheme"):  # a colour scheme on one-channel faces
        study.run_cells(att, ["pixel2"], ["released"])


def test_the_face_recogniser_names_the_persons_of_the_synthetic_faces():
    faces = study.load_faces("synthetic", seed=0)
    assert faces["x_train"].shape[1:] == (48, 40, 1) and set(faces["y_train"]) == set(faces["y_test"])
    clf = study.train_face_classifier(faces)
    acc = clf.correct(faces["x_test"], faces["y_test"]).mean()
    chance = 1 / len(faces["classes"])
    assert acc >= 0.8 > 5 * chance
    # it reads the face, not the brightness: scrambled blocks of the same faces are not recognised
    from ppstudy.ciphers import etc

    key = etc.keygen(faces["x_test"].shape[1:], block=8, seed=3)
    assert clf.correct(etc.encrypt(faces["x_test"], key), faces["y_test"]).mean() < acc / 2


def test_record_faces_makes_the_face_checks(tmp_path):
    import dataclasses

    from ppstudy.kernel.run import Run

    six = dataclasses.replace(SMALL, draws=6)
    att = study.Attacker(toy_faces(), None, six, progress=False)
    attacks = ["released", "kp", "fold"]
    cells = study.run_cells(att, list(study.FACE_SCHEMES), attacks)
    for c in cells.values():  # a recogniser that is always right
        c.correct = [True] * (len(c.ssim) * six.images_per_draw) if c.measured else []
    run = Run("attacks", "quick", {}, tmp_path, data="toy")
    study.record_faces(run, cells, list(study.FACE_SCHEMES), attacks, {"accuracy": 0.9}, 1 / 3, six)
    checks = run.manifest["checks"]
    assert checks["kp-whole-key-faces"]["passed"] and checks["leaks-etc8-faces"]["passed"]
    assert checks["kp-whole-key-faces"]["evidence"]["shown_in"] == ["face_cells"]
    assert "kp-whole-key" not in checks and run.manifest["values"]["face_chance_accuracy"]
