"""The Big Data Cup chapter's logic: rebuild the challenge, train the winner's models, attack the cat map,
measure the BFV subtask at chance, compare a Siamese matcher's throughput. ``book/cup.md`` calls this.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ppstudy import InputError

#: Thing (2022), Table 1: subtask, architecture, model id, validation accuracy, validation loss
PAPER_TABLE1 = [
    ("1", "resnet152", "1-1", 0.992009, 0.0233274),
    ("1", "efficientnet_b7", "1-2", 0.994722, 0.017557),
    ("1", "xception", "1-3", 0.998234, 0.006196),
    ("1", "resnet152", "1-4", 0.999, 0.003773),
    ("2", "xception", "2-1", 0.943464, 0.172519),
    ("2", "efficientnet_b0", "2-2", 0.947596, 0.158589),
    ("2", "efficientnet_b0", "2-3", 0.950458, 0.146256),
    ("2", "xception", "2-4", 0.955643, 0.14449),
    ("2", "xception", "2-5", 0.959497, 0.131707),
    ("2", "xception", "2-6", 0.954363, 0.136174),
    ("3-T1", "efficientnet_b3", "3-1", 0.515491, 0.854201),
    ("3-T1", "xception", "3-2", 0.520897, 0.69289),
    ("3-T1", "xception", "3-3", 0.524585, 0.69336),
    ("3-T2", "xception", "3-4", 0.516292, 0.693152),
    ("3-T3", "xception", "3-5", 0.515097, 0.693276),
]
PAPER_PRELIMINARY_SCORE = 0.7204
PAPER_FINAL_SCORE = 0.6946
#: validation pairs per model in the paper's protocol: 20% of 10000 matching + 10000 re-paired pairs (the
#: paper states the 80:20 split, not this count; its accuracies are not multiples of 1/4000)
PAPER_VAL_PAIRS = 4000

#: the smoke profile's stand-ins: timm's tiny test networks of the same families (Xception's depthwise
#: separable convolutions are closest to EfficientNet's)
TINY = {"resnet152": "tiny_resnet", "efficientnet_b0": "tiny_efficientnet", "efficientnet_b3": "tiny_efficientnet",
        "efficientnet_b7": "tiny_efficientnet", "xception": "tiny_efficientnet"}


# ---------------------------------------------------------------------- data
def smoke_sources(n: int, *, seed: int = 0) -> list[np.ndarray]:
    """``n`` distinct source photographs: random crops of scikit-image's bundled photographs."""
    from ppstudy.data import bundled
    from ppstudy.data.challenge import source_crops

    photos = list(bundled.photographs().values()) + list(bundled.gray_photographs().values())
    return source_crops(photos, n, seed=seed)


def smoke_faces(n: int, size: int = 52, *, seed: int = 0) -> np.ndarray:
    """``n`` face crops at ``size``: scikit-image's 100 LFW faces, then jittered re-crops."""
    from ppstudy.data import bundled
    from ppstudy.data.challenge import face_crops

    return face_crops(bundled.faces(), n, size, seed=seed)


def prepare_challenge(root: str | Path, *, data_dir: str = "", n_train: int, n_test: int, canvas: int, tile: int,
                      face: int, seed: int = 0) -> tuple[Path, bool]:
    """The challenge directory: ``data_dir`` when given (a user's real challenge data, read as is), else a
    challenge rebuilt from the bundled sample data under ``root``. Returns (directory, rebuilt?)."""
    from ppstudy.data import challenge as ch

    if data_dir:
        d = Path(data_dir).expanduser()
        ch.read_meta(d)  # clear error when missing
        return d, False
    root = Path(root)
    n = n_train + n_test
    ch.build(root, sources=smoke_sources(n, seed=seed), faces=smoke_faces(n, face, seed=seed), n_train=n_train,
             n_test=n_test, canvas=canvas, tile=tile, face=face, seed=seed)
    return root, True


def load_subtask(root: Path, subtask: int, *, limit_train: int | None = None, limit_test: int | None = None) -> dict:
    """Train and test splits of one subtask as arrays: originals, encoded images (ciphertext byte views for
    subtask 3), raw ciphertexts (subtask 3), test labels."""
    from ppstudy.data import challenge as ch

    tr = ch.read_split(root, subtask, "train", limit=limit_train)
    te = ch.read_split(root, subtask, "test", limit=limit_test)
    return {"train_orig": tr.originals, "train_enc": tr.encoded_images, "test_orig": te.originals,
            "test_enc": te.encoded_images, "test_labels": te.labels, "test_ids": te.ids,
            "train_ct": tr.encoded if subtask == 3 else None, "test_ct": te.encoded if subtask == 3 else None}


# ---------------------------------------------------------------------- the winner's models


def approach_settings(row_subtask: str, aug_p: float) -> dict:
    """Augmentation and normalisation of the winner's approaches.

    Subtasks 1/2 and 3-T1: augment the original, normalise (3-T1: the encoded channels only divided by
    255). 3-T2: no augmentation, everything divided by 255. 3-T3: augment both images (plus
    multiplicative noise and coarse dropout), normalise everything.

    The paper's and ours: the approaches are the paper's; ``aug_p = 0.1`` is the paper's probability for
    3-T1 and 3-T3 only, for subtasks 1 and 2 the paper gives none (0.1 there is our assumption); "normalise"
    is per-channel mean/std of the training pairs (ours: the paper does not say which statistics).
    """
    from ppstudy.models.pair_cnn import PairAugment

    if isinstance(aug_p, bool) or not isinstance(aug_p, (int, float)) or not 0 <= aug_p <= 1:
        raise InputError(f"aug_p must be a probability in [0, 1], got {aug_p!r}")
    if row_subtask in ("1", "2"):
        return {"augment": PairAugment(p=aug_p), "norm": "all"}
    if row_subtask == "3-T1":
        return {"augment": PairAugment(p=aug_p), "norm": "original"}
    if row_subtask == "3-T2":
        return {"augment": None, "norm": "none"}
    if row_subtask == "3-T3":
        return {"augment": PairAugment(p=aug_p, both=True, extra=True), "norm": "all"}
    raise InputError(f"unknown subtask/approach {row_subtask!r}")


def _normalization(pairs: np.ndarray, mode: str):
    from ppstudy import train

    mean, std = train.compute_normalization(train.as_nchw_uint8(pairs))
    mean, std = mean.tolist(), std.tolist()
    if mode == "original":
        mean[3:], std[3:] = [0.0] * 3, [1.0] * 3
    elif mode == "none":
        mean, std = [0.0] * 6, [1.0] * 6
    return mean, std


def train_pair_model(model, train_orig, train_enc, *, row_subtask: str, split_seed: int, epochs: int,
                     batch_size: int, lr: float, aug_p: float, seed: int = 0, checkpoint_dir=None,
                     tag: str = "") -> dict:
    """The winner's recipe for one model: random re-pairing for negatives, an 80:20 split with
    ``split_seed``, 6-channel pairs, the approach's augmentation, trained from scratch with the shared loop.
    Returns the trained model, its normalisation and validation accuracy / log loss."""
    from sklearn.metrics import log_loss

    from ppstudy import schedules, train
    from ppstudy.data.challenge import split_80_20, training_pairs
    from ppstudy.models.pair_cnn import predict_proba

    pairs, labels = training_pairs(train_orig, train_enc, seed=split_seed)
    tr, va = split_80_20(len(pairs), seed=split_seed)
    st = approach_settings(row_subtask, aug_p)
    norm = _normalization(pairs[tr], st["norm"])
    t0 = time.perf_counter()
    res = train.fit(model, train=(pairs[tr], labels[tr]), schedule=schedules.adamw_one_cycle(epochs, lr=lr, batch_size=batch_size),
                    augment=st["augment"], loss="bce", normalization=norm, seed=seed, progress=False,
                    checkpoint_dir=checkpoint_dir, tag=tag)
    seconds = time.perf_counter() - t0
    p = predict_proba(res.model, pairs[va], norm)
    return {"model": res.model, "normalization": norm, "val_acc": float(((p > 0.5) == labels[va]).mean()),
            "val_loss": float(log_loss(labels[va], np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1])),
            "train_seconds": seconds, "train_pairs_per_s": res.images_per_s, "n_train": len(tr), "n_val": len(va)}


def test_pairs(data: dict) -> np.ndarray:
    return np.concatenate([data["test_orig"], data["test_enc"]], axis=3)


def ensemble_accuracy(probabilities: list[np.ndarray], labels: np.ndarray) -> tuple[float, np.ndarray]:
    """The winner's submission: average the models' probabilities, round to 0/1 (a mean of exactly 1/2
    counts as a match); accuracy and predictions."""
    if not len(probabilities):
        raise InputError("ensemble_accuracy: no model probabilities")
    labels = np.asarray(labels)
    try:
        p = np.mean(np.stack([np.asarray(q, float).ravel() for q in probabilities]), axis=0)
    except ValueError:
        raise InputError(f"ensemble_accuracy: models scored different numbers of pairs "
                         f"{[np.size(q) for q in probabilities]}") from None
    if p.shape != labels.shape or not p.size:
        raise InputError(f"ensemble_accuracy: {p.size} probabilities per model for {labels.size} labels")
    pred = (p >= 0.5).astype(np.int64)
    return float((pred == labels).mean()), pred


def write_submission(path: str | Path, predictions: dict[int, np.ndarray]) -> Path:
    """The challenge's submission file: one 0/1 line per test pair, subtasks 1, 2, 3 in order."""
    path = Path(path)
    if not predictions or not set(predictions) <= {1, 2, 3}:
        raise InputError(f"write_submission: predictions must be keyed by subtasks 1, 2, 3, got {sorted(predictions)}")
    for st, v in predictions.items():
        if not np.isin(np.asarray(v), (0, 1)).all():
            raise InputError(f"write_submission: subtask {st} has predictions other than 0 and 1")
    lines = [str(int(v)) for st in sorted(predictions) for v in predictions[st]]
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------- figures
def fig_examples(manifest: dict, run_dir: Path):
    import matplotlib.pyplot as plt

    from ppstudy.plots import style

    arr = np.load(Path(run_dir) / "arrays.npz")
    with style():
        fig, ax = plt.subplots(2, 3, figsize=(8, 5.6))
        for j, st in enumerate((1, 2, 3)):
            ax[0, j].imshow(arr[f"orig{st}"])
            ax[1, j].imshow(arr[f"enc{st}"], interpolation="nearest")
            ax[0, j].set_title(f"subtask {st}: original")
            ax[1, j].set_title(["cat map per tile", "cat map, whole image", "BFV ciphertext bytes"][j])
        for a in ax.ravel():
            a.set_xticks([])
            a.set_yticks([])
            a.grid(False)
        fig.tight_layout()
    return fig


def fig_accuracy(manifest: dict, run_dir: Path):
    import matplotlib.pyplot as plt

    from ppstudy.plots import style

    rows = manifest["tables"]["approaches"]["rows"]
    approaches = list(dict.fromkeys(r["approach"] for r in rows))
    with style():
        fig, ax = plt.subplots(figsize=(8, 3.6))
        w = 0.8 / len(approaches)
        for k, a in enumerate(approaches):
            acc = [next((r["measured_test_acc"] for r in rows if r["approach"] == a and r["subtask"] == st), np.nan)
                   for st in (1, 2, 3)]
            ax.bar(np.arange(3) + k * w - 0.4 + w / 2, acc, w, label=a)
        ax.axhline(0.5, color="k", lw=0.8, ls="--", label="chance")
        ax.set_xticks(range(3), ["subtask 1\ncat map per tile", "subtask 2\ncat map, whole", "subtask 3\nBFV"])
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.set_title(f"Matching accuracy by approach ({manifest['profile']} profile)")
    return fig


def fig_ceiling(manifest: dict, run_dir: Path):
    import matplotlib.pyplot as plt

    from ppstudy.metrics import chance_ceiling
    from ppstudy.plots import style

    v = manifest["values"]
    ns = np.unique(np.logspace(2, 4.5, 40).astype(int))
    with style():
        fig, ax = plt.subplots(figsize=(6.5, 3.6))
        ax.plot(ns, [chance_ceiling(n_test=int(n)) for n in ns], label="ceiling: perfect 1 and 2, lucky guessing on 3 (95%)")
        ax.axhline(chance_ceiling(), color="k", lw=0.8, ls="--", label="ceiling in expectation (0.7)")
        ax.axhline(v["paper_final_score"], color="C3", lw=1, label=f"winner's final score {v['paper_final_score']}")
        ax.axhline(v["paper_preliminary_score"], color="C1", lw=1, ls=":",
                   label=f"winner's preliminary score {v['paper_preliminary_score']}")
        ax.set_xscale("log")
        ax.set_xlabel("graded subtask-3 test pairs")
        ax.set_ylabel("weighted leaderboard score")
        ax.legend(fontsize=9)
    return fig


FIGURES = {"fig_examples": fig_examples, "fig_accuracy": fig_accuracy, "fig_ceiling": fig_ceiling}


def memorisation_baseline(n: int, split_seed: int) -> float:
    """Validation accuracy of a rule that never looks at a ciphertext: the winner's 80:20 split is over
    *pairs*, and every original appears in exactly one matching and one re-paired pair, so when the
    other pair of a validation original is in the training part its label gives this one away
    (``1 - label``); otherwise guess. Shows that validation accuracy on subtask 3 measures the split
    as much as the encryption (a network memorising originals is pushed the other way, below 1/2)."""
    from ppstudy.data.challenge import split_80_20

    labels = np.concatenate([np.ones(n, np.int64), np.zeros(n, np.int64)])
    tr, va = split_80_20(2 * n, seed=split_seed)
    in_train = np.zeros(2 * n, bool)
    in_train[tr] = True
    partner = (va + n) % (2 * n)
    guess = np.random.default_rng(split_seed).integers(0, 2, len(va))
    pred = np.where(in_train[partner], 1 - labels[partner], guess)
    return float((pred == labels[va]).mean())


# ---------------------------------------------------------------------- model selection on chance
def model_selection(table=PAPER_TABLE1, *, n_val: int = PAPER_VAL_PAIRS, level: float = 0.95) -> list[dict]:
    """What selecting models by validation accuracy could do for chance-level subtask-3 models.

    For each subtask-3 approach of the paper's Table 1 (and for the whole subtask), with ``k`` models: the
    best and worst validation accuracies, the best one's z-score against 1/2, the probability that a single
    chance-level model on ``n_val`` independent pairs reaches it, that the best of ``k`` does, the
    ``level`` quantile of the best of ``k``, the probability that all ``k`` reach the worst value, and how
    many independent chance-level runs a selection would need to pick from for the best value (and for
    ``k`` values as high as the worst) to be reached with probability 1/2.
    Binomial and exact (:func:`ppstudy.metrics.chance_tail` and friends), assuming independent
    validation pairs and runs.
    """
    from ppstudy import metrics

    rows3 = [r for r in table if str(r[0]).startswith("3")]
    if not rows3:
        raise InputError("model_selection: the table has no subtask-3 rows")
    groups = list(dict.fromkeys(r[0] for r in rows3))
    out = []
    for name, rows in [(g, [r for r in rows3 if r[0] == g]) for g in groups] + [("3 (all)", rows3)]:
        accs = [float(r[3]) for r in rows]
        k, best, worst = len(accs), max(accs), min(accs)
        out.append({
            "approach": name, "models": k, "paper_best_val_acc": best, "paper_worst_val_acc": worst,
            "z_best": (best - 0.5) / np.sqrt(0.25 / n_val),
            "p_one_model_reaches_best": metrics.chance_tail(best, n_val),
            "p_best_of_k_reaches_best": metrics.best_of_chance_sf(best, k, n_val),
            f"best_of_k_chance_q{round(level * 100)}": metrics.best_of_chance_quantile(level, k, n_val),
            "p_all_k_reach_worst": metrics.at_least_j_of_chance_sf(worst, k, k, n_val),
            "runs_needed_best": metrics.tries_needed(best, n_val),
            "runs_needed_all_k": metrics.tries_needed(worst, n_val, j=k),
        })
    return out


# ---------------------------------------------------------------------- BFV over repetitions
def _row_seed(seed: int, i: int, rep: int) -> int:
    """The seed of Table 1 row ``i`` in repetition ``rep``: ``seed + i`` in repetition 0 (the chapter's)."""
    return int(seed) + i + rep * len(PAPER_TABLE1)


def bfv_repetitions(train_faces: np.ndarray, test_faces: np.ndarray, *, repetitions: int = 3, seed: int = 0,
                    accuracies_12: tuple[float, float] | None = None, tiny: bool = True, epochs: int = 5,
                    batch_size: int = 32, lr: float = 2e-3, aug_p: float = 0.1, rows: list[int] | None = None,
                    multiset: bool = True, keygen=None, log=None) -> dict:
    """The BFV part of the chapter, repeated: SEAL's randomness cannot be seeded, so report a spread.

    Repetition ``r`` draws a fresh BFV key (SEAL), encrypts the training faces and a fresh balanced test
    pairing of the test faces (seeded by ``(seed, r)``), trains the subtask-3 models of Table 1 (``rows``:
    indices into :data:`PAPER_TABLE1`, default all subtask-3 rows; model ``i`` seeded with
    ``seed + i + 15 r``, so repetition 0 uses the chapter's seeds), and scores each model, their
    ensemble and (``multiset``) the key-free multiset matcher on the test pairs. With
    ``accuracies_12`` (the subtask-1/2 ensemble accuracies, which are seeded and do not vary) each
    repetition also gets a weighted score. Everything but SEAL is seeded, so the spread is SEAL's
    (and the pairing's) alone.

    Returns ``{"per_repetition": [...], "summary": {...}, "n_test", "repetitions", "seed"}``; every summary
    entry is :func:`ppstudy.metrics.spread` (mean, sd, min, max, values) over the repetitions.
    """
    import torch

    from ppstudy import metrics
    from ppstudy.attacks.catmap import MultisetMatcher
    from ppstudy.ciphers import bfv
    from ppstudy.data.challenge import test_pairing
    from ppstudy.models.pair_cnn import pair_cnn, predict_proba

    for name, x in (("train_faces", train_faces), ("test_faces", test_faces)):
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 4 or len(x) < 2:
            raise InputError(f"bfv_repetitions: {name} must be a uint8 N x H x W x C array with N >= 2, got "
                             f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}")
    if train_faces.shape[1:] != test_faces.shape[1:]:
        raise InputError(f"bfv_repetitions: train faces {train_faces.shape[1:]} and test faces "
                         f"{test_faces.shape[1:]} differ in shape")
    if isinstance(repetitions, bool) or not isinstance(repetitions, (int, np.integer)) or repetitions < 1:
        raise InputError(f"bfv_repetitions: repetitions must be an integer >= 1, got {repetitions!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"bfv_repetitions: seed must be a non-negative integer, got {seed!r}")
    idx = [i for i, r in enumerate(PAPER_TABLE1) if r[0].startswith("3")] if rows is None else list(rows)
    if not idx or any(not (0 <= i < len(PAPER_TABLE1)) or not PAPER_TABLE1[i][0].startswith("3") for i in idx):
        raise InputError(f"bfv_repetitions: rows must be indices of subtask-3 rows of PAPER_TABLE1, got {rows!r}")
    shape = tuple(int(v) for v in train_faces.shape[1:])
    make_key = keygen or (lambda: bfv.keygen(shape))
    n_test = len(test_faces)
    per: list[dict[str, Any]] = []
    for rep in range(int(repetitions)):
        key = make_key()  # SEAL's CSPRNG: the one unseeded step
        partner, labels = test_pairing(n_test, np.random.default_rng([int(seed), rep]))
        tr_ct = bfv.encrypt(train_faces, key)
        te_ct = bfv.encrypt(test_faces[partner], key)
        tr_e = np.stack([bfv.ciphertext_image(c, shape) for c in tr_ct])
        te_e = np.stack([bfv.ciphertext_image(c, shape) for c in te_ct])
        pairs = np.concatenate([test_faces, te_e], axis=3)
        probs: list[np.ndarray] = []
        models: dict[str, float] = {}
        vals: dict[str, float] = {}
        seeds: dict[str, int] = {}
        for i in idx:
            row_st, arch, model_id = PAPER_TABLE1[i][:3]
            s_i = _row_seed(seed, i, rep)
            torch.manual_seed(s_i)
            res = train_pair_model(pair_cnn(TINY[arch] if tiny else arch), train_faces, tr_e, row_subtask=row_st,
                                   split_seed=s_i, epochs=epochs, batch_size=batch_size, lr=lr, aug_p=aug_p,
                                   seed=s_i, tag=f"{model_id}-rep{rep}")
            p = predict_proba(res["model"], pairs, res["normalization"])
            probs.append(p)
            models[model_id] = float(((p > 0.5) == labels).mean())
            vals[model_id], seeds[model_id] = res["val_acc"], s_i
        ens, _ = ensemble_accuracy(probs, labels)
        k = round(ens * n_test)
        rec: dict[str, Any] = {"repetition": rep, "pairing_seed": [int(seed), rep], "model_seeds": seeds, "model_test_acc": models,
               "model_val_acc": vals, "ensemble_test_acc": ens, "ensemble_ci95": list(metrics.binomial_ci(k, n_test)),
               "matching_test_pairs": int(labels.sum())}
        if multiset:
            m = MultisetMatcher(shape[0]).fit(train_faces, tr_e, seed=int(seed) + rep)
            rec["multiset_test_acc"] = float((m.predict(test_faces, te_e) == labels).mean())
        if accuracies_12 is not None:
            rec["weighted_score"] = metrics.weighted_score([accuracies_12[0], accuracies_12[1], ens])
        per.append(rec)
        if log is not None:
            log(f"BFV repetition {rep}: ensemble {ens:.4f}"
                + (f", weighted score {rec['weighted_score']:.4f}" if "weighted_score" in rec else ""))
    summary: dict[str, Any] = {"ensemble_test_acc": metrics.spread([r["ensemble_test_acc"] for r in per]),
               "models": {m: metrics.spread([r["model_test_acc"][m] for r in per]) for m in per[0]["model_test_acc"]}}
    if multiset:
        summary["multiset_test_acc"] = metrics.spread([r["multiset_test_acc"] for r in per])
    if accuracies_12 is not None:
        summary["weighted_score"] = metrics.spread([r["weighted_score"] for r in per])
    return {"repetitions": int(repetitions), "seed": int(seed), "n_test": n_test, "per_repetition": per,
            "summary": summary}


def repetition_rows(result: dict) -> list[dict]:
    """Rows for a table of :func:`bfv_repetitions`: one per quantity, mean / sd / min / max over repetitions,
    the paper's value where it has one (its final leaderboard score)."""
    s = result["summary"]
    items: list[tuple[str, dict, float | None]] = [("ensemble test accuracy, subtask 3", s["ensemble_test_acc"], None)]
    items += [(f"model {m} test accuracy", v, None) for m, v in s["models"].items()]
    if "multiset_test_acc" in s:
        items.append(("key-free multiset matcher, subtask 3", s["multiset_test_acc"], None))
    if "weighted_score" in s:
        items.append(("weighted score (subtasks 1, 2 fixed)", s["weighted_score"], PAPER_FINAL_SCORE))
    return [{"quantity": q, "paper": paper, "measured_mean": v["mean"], "measured_sd": v["sd"],
             "measured_min": v["min"], "measured_max": v["max"], "repetitions": v["n"]} for q, v, paper in items]
