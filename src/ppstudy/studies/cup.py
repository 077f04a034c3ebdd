"""The Big Data Cup chapter's logic: rebuild the challenge, train the winner's models, attack the cat map,
measure the BFV subtask at chance, compare a Siamese matcher's throughput. ``book/cup.md`` calls this.
"""

from __future__ import annotations

import time
from pathlib import Path

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
    """
    from ppstudy.models.pair_cnn import PairAugment

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
    """The winner's submission: average the models' probabilities, round to 0/1; accuracy and predictions."""
    p = np.mean(np.stack(probabilities), axis=0)
    pred = (p >= 0.5).astype(np.int64)
    return float((pred == labels).mean()), pred


def write_submission(path: str | Path, predictions: dict[int, np.ndarray]) -> Path:
    """The challenge's submission file: one 0/1 line per test pair, subtasks 1, 2, 3 in order."""
    path = Path(path)
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
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
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
        ax.legend(fontsize=8)
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
