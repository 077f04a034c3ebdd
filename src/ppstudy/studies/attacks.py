"""Every scheme of the book under every attack, side by side: the logic of ``book/attacks.md``.

The schemes are the book's (:data:`SCHEMES`, with the chapters' settings), the attacks those of
:mod:`ppstudy.attacks` (:data:`ATTACKS`, each with what the attacker holds). A *cell* is one scheme under
one attack: over ``draws`` random draws of test images (each draw under a fresh key, except for the
network trained on one target key's pairs), the attack's reconstructions are compared with the originals
(SSIM and PSNR per draw, with 95% Student-t intervals over the draws), the fraction of the key it
recovers is recorded where it recovers one, and a classifier trained on plain public images is scored on
every reconstruction (its accuracy with the Clopper-Pearson interval; chance and the plain test images
are the two ends). A cell that no attack of its column fits is marked with the reason
(:func:`no_attack_reason`).

The utility side (the accuracy each scheme costs) is not measured here: :func:`published_utility` reads
it from the other chapters' published runs (``results/<chapter>/<profile>/results.json``), with their
provenance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ppstudy import InputError

SHAPE = (32, 32, 3)


# ---------------------------------------------------------------------- schemes and attacks
@dataclass(frozen=True)
class Scheme:
    """A scheme of the book as this chapter runs it: ``kind`` (its cipher module) and its options."""

    name: str
    label: str
    kind: str  # etc, tanaka, pixel, chaotic, catmap, deid, bfv
    chapter: str  # the chapter that studies it
    options: dict[str, Any] = field(default_factory=dict)


SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in (
        Scheme("etc4", "EtC, 4x4 blocks", "etc", "pixel", {"block": 4}),
        Scheme("etc8", "EtC, 8x8 blocks", "etc", "etc", {"block": 8}),
        Scheme("etc16", "EtC, 16x16 blocks", "etc", "etc", {"block": 16}),
        Scheme("etc-gray8", "grayscale-based EtC, 8x8 blocks", "etc", "etc", {"block": 8, "grayscale": True}),
        Scheme("tanaka", "Tanaka, 4x4 blocks", "tanaka", "pixel", {"block": 4}),
        Scheme("pixel2", "pixel-based, step 2", "pixel", "pixel", {"shuffle": False}),
        Scheme("pixel23", "pixel-based, steps 2 and 3", "pixel", "pixel", {"shuffle": True}),
        Scheme("chaotic", "logistic map + RC4", "chaotic", "pixel", {}),
        Scheme("catmap-tile8", "cat map per 8x8 tile", "catmap", "cup", {"mode": "tile", "tile": 8}),
        Scheme("catmap-whole", "cat map on the whole image", "catmap", "cup", {"mode": "whole", "tile": 32}),
        Scheme("deid-imagetracer", "de-identification (imagetracerjs)", "deid", "deid", {"tracer": "imagetracer"}),
        Scheme("deid-vtracer", "de-identification (vtracer)", "deid", "deid", {"tracer": "vtracer"}),
        Scheme("bfv", "BFV homomorphic encryption", "bfv", "cup", {}),
    )
}


@dataclass(frozen=True)
class Attack:
    name: str
    label: str
    holds: str  # the threat model: what the attacker holds
    module: str


ATTACKS: dict[str, Attack] = {
    a.name: a
    for a in (
        Attack("released", "the cipher image as released", "one cipher image; nothing is done to it", "—"),
        Attack(
            "keyrec",
            "ciphertext-only key recovery",
            "cipher images under one key (one key per data set) and public images",
            "attacks.pixel, attacks.jigsaw, attacks.exhaustive",
        ),
        Attack("jigsaw", "jigsaw solver, one image", "one cipher image and public images", "attacks.jigsaw"),
        Attack("fold", "negative-positive fold", "one cipher image", "attacks.fold"),
        Attack("kp", "known plaintext", "plain/cipher pairs under the key, one at a time", "attacks.known_plaintext"),
        Attack(
            "inv-drawn",
            "inversion network, keys drawn",
            "public images and the scheme, encrypted under keys it draws",
            "attacks.inversion",
        ),
        Attack(
            "inv-target", "inversion network, target-key pairs", "plain/cipher pairs under the key", "attacks.inversion"
        ),
    )
}

#: the attacks of an attacker who holds no plaintext under the key (the leakage of the utility figure)
CIPHERTEXT_ONLY = ("released", "keyrec", "jigsaw", "fold", "inv-drawn")

_BFV = "BFV ciphertexts are semantically secure (RLWE): they show nothing of the image; the ceiling"


def no_attack_reason(scheme: Scheme, attack: str) -> str | None:
    """Why no attack of column ``attack`` applies to ``scheme`` (None: one does)."""
    k = scheme.kind
    if k == "bfv":
        return _BFV
    if attack == "released":
        return "six shuffled 4-bit planes: not a picture in the plain layout" if k == "tanaka" else None
    if attack == "keyrec":
        return {
            "tanaka": "none here: one in-block permutation of 96 values shared by all blocks; not attacked",
            "chaotic": "none here: a keystream XORed onto a secret pixel permutation",
            "deid": "no key to recover: the OPE key moves coordinates inside a non-invertible transform",
        }.get(k)
    if attack == "jigsaw":
        if k == "etc":
            return None
        return {
            "tanaka": "its blocks stay in place (values are shuffled inside each block)",
            "catmap": "pixels move inside tiles, blocks do not",
        }.get(k, "no blocks are scrambled")
    if attack == "fold":
        if k == "pixel":
            return None
        return {
            "etc": "blocks are scrambled: the jigsaw solver folds the flip into its colour transforms",
            "tanaka": "values are shuffled inside each block",
            "chaotic": "a keystream XOR, not a negative-positive flip",
            "catmap": "no value changes, only positions",
            "deid": "no negative-positive step",
        }[k]
    if attack == "kp":
        return "not invertible: no key decrypts a de-identified image" if k == "deid" else None
    if attack in ("inv-drawn", "inv-target"):
        return None
    raise InputError(f"unknown attack {attack!r} (attacks: {', '.join(ATTACKS)})")


class _Deid:
    """De-identification as a cipher-like transform: ``keygen`` gives an OPE key, ``encrypt`` releases the
    de-identified images (traced at ``size`` and released at the images' own size). Building an OPE key's
    table takes seconds, so the keys come from a pool of ``pool`` keys drawn once (``keygen``'s seed picks
    one of them)."""

    _keys: dict[int, Any] = {}

    def __init__(self, tracer: str, size: int, out_size: int, pool: int = 2):
        from ppstudy.ciphers import deid

        self.settings = deid.Settings(size=size, out_size=out_size, tracer=tracer)
        self.pool = max(1, int(pool))

    def keygen(self, shape, *, seed=None):
        from ppstudy.ciphers import deid

        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        i = int(ss.generate_state(1)[0]) % self.pool
        if i not in _Deid._keys:
            _Deid._keys[i] = deid.keygen(seed=np.random.SeedSequence([2026, i]))
        return _Deid._keys[i]

    def encrypt(self, x: np.ndarray, key) -> np.ndarray:
        from ppstudy.ciphers import deid

        return deid.pipeline(x, key, self.settings, outputs=("deid",))["deid"]


def cipher_of(scheme: Scheme, *, deid_size: int = 32, deid_keys: int = 2):
    """The scheme's configured cipher (``keygen(shape, seed=...)``, ``encrypt``, ``decrypt`` where it has
    one), or None for BFV."""
    from ppstudy import ciphers
    from ppstudy.ciphers import catmap, etc
    from ppstudy.ciphers.base import CipherSpec

    o = scheme.options
    if scheme.kind == "etc":
        g = bool(o.get("grayscale", False))
        opts = {"block": o["block"], "grayscale": g}
        return CipherSpec(scheme.name, etc, scheme.label, opts, ("block", "grayscale"))
    if scheme.kind == "pixel":
        return ciphers.get("pixel23" if o["shuffle"] else "pixel2")
    if scheme.kind in ("tanaka", "chaotic"):
        return ciphers.get(scheme.kind)
    if scheme.kind == "catmap":
        return CipherSpec(scheme.name, catmap, scheme.label, dict(o), ("mode", "tile"))
    if scheme.kind == "deid":
        return _Deid(o["tracer"], deid_size, SHAPE[0], deid_keys)
    return None


# ---------------------------------------------------------------------- data, run, classifier
def load_data(data: str, n_train: int, n_test: int, seed: int) -> dict[str, Any]:
    """CIFAR-10 (or the smoke stand-in): the training split is the attacker's public images and the plain
    classifier's training set; the test split holds the targets (:func:`ppstudy.studies.common.load_cifar10`)."""
    from ppstudy.studies import common

    return common.load_cifar10(data, n_train, n_test, seed)


def start(namespace: dict[str, Any], data: dict[str, Any], faces: dict[str, Any] | None = None):
    """The chapter's run (:func:`ppstudy.studies.common.start`), its data CIFAR-10 (``data``) and, when
    given, the faces (:func:`load_faces`) beside them."""
    from ppstudy.studies import common

    source = data["source"] if faces is None else data["source"].combine(faces["source"])
    return common.start("attacks", namespace, source)


@dataclass
class Classifier:
    """The plain classifier: trained on plain public images, scored on anything of the plain shape."""

    model: Any
    normalization: Any
    precision: str
    seconds: float
    resumed_seconds: float = 0.0  # beside ``seconds``: epochs a checkpoint held, trained by an earlier call

    def correct(self, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        from ppstudy import train

        _, c = train.evaluate(
            self.model,
            images,
            labels,
            normalization=self.normalization,
            precision=self.precision,
            return_correct=True,
        )
        return np.asarray(c, bool)


def train_classifier(
    data: dict[str, Any],
    *,
    epochs: int,
    width: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
    checkpoint_dir: str | None = None,
    progress: bool = True,
) -> Classifier:
    """The CPU recipe's network (:func:`ppstudy.models.fastnet_cifar`) and schedule on the plain training
    images (:func:`ppstudy.train.fit`, augmentation as in the pixel chapter's quick profile)."""
    import torch

    from ppstudy import schedules, train
    from ppstudy.models import fastnet_cifar

    torch.manual_seed(seed)
    net = fastnet_cifar(len(data["classes"]), widths=(width, 4 * width, 4 * width))
    res = train.fit(
        net,
        (data["x_train"], data["y_train"]),
        schedule=schedules.get("triangle", epochs, lr=lr, batch_size=batch_size),
        augment=train.Augment(pad=2, flip=True, padding_mode="reflect", alternate_flip=True),
        seed=seed,
        checkpoint_dir=checkpoint_dir or None,
        progress=progress,
        desc="plain classifier",
        tag="attacks-plain-classifier",
    )
    return Classifier(res.model, res.normalization, res.precision, res.train_seconds, res.resumed_seconds or 0.0)


# ---------------------------------------------------------------------- faces
#: the schemes the book applies to faces: the etc chapter's EtC (8 x 8 blocks on the 192 x 160 grayscale
#: Extended Yale B crops, one channel: no colour shuffle) and BFV (the cup chapter's face subtask), the ceiling
FACE_SCHEMES = ("etc8", "bfv")


def load_faces(source: str, *, seed: int = 0) -> dict[str, Any]:
    """The face targets and the attacker's public faces: the etc chapter's face set
    (:func:`ppstudy.studies.etc.load_faces`: Extended Yale B, or its offline synthetic stand-in) split half
    and half per person (every person on both sides); images ``N x H x W x 1`` uint8, labels the persons."""
    from ppstudy.studies import etc

    d = etc.load_faces(source, data_seed=seed, split_seed=seed)
    x = np.asarray(d["images"], np.uint8)[..., None]
    y = np.asarray(d["labels"], np.int64)
    tr, q = d["train_idx"], d["query_idx"]
    return {
        "x_train": x[tr],
        "y_train": y[tr],
        "x_test": x[q],
        "y_test": y[q],
        "classes": list(d["persons"]),
        "source": d["source"],
        "description": d["description"],
    }


@dataclass
class FaceClassifier:
    """The plain face recogniser that scores reconstructions of faces: each image reduced by ``factor`` x
    ``factor`` block means, its vector z-scored (the etc chapter's normalisation), PCA and a linear SVM
    (scikit-learn), trained on the plain public faces."""

    model: Any
    factor: int
    seconds: float
    resumed_seconds: float = 0.0

    @staticmethod
    def features(images: np.ndarray, factor: int) -> np.ndarray:
        x = np.asarray(images, np.float64)
        if x.ndim == 4:
            x = x.mean(axis=3)
        n, h, w = x.shape
        f = int(factor)
        x = x[:, : h - h % f, : w - w % f].reshape(n, h // f, f, w // f, f).mean(axis=(2, 4)).reshape(n, -1)
        x = x - x.mean(axis=1, keepdims=True)
        return x / np.maximum(x.std(axis=1, keepdims=True), 1e-12)

    def correct(self, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(self.features(images, self.factor)) == np.asarray(labels), bool)


def train_face_classifier(data: dict[str, Any], *, factor: int = 4, components: int = 150) -> FaceClassifier:
    """:class:`FaceClassifier` on the public faces (``data["x_train"]``, ``data["y_train"]``)."""
    import time

    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    from ppstudy import validate

    factor = validate.positive_int("face_factor", factor)
    x = FaceClassifier.features(data["x_train"], factor)
    k = max(1, min(int(components), x.shape[0] - 1, x.shape[1]))
    t0 = time.perf_counter()
    model = make_pipeline(PCA(k, random_state=0), LinearSVC(C=1.0, max_iter=20000, random_state=0))
    model.fit(x, data["y_train"])
    return FaceClassifier(model, factor, time.perf_counter() - t0)


# ---------------------------------------------------------------------- measures
def psnr(x: np.ndarray, y: np.ndarray) -> float:
    """PSNR (dB) of ``y`` against ``x`` over all their values; ``inf`` when they are equal."""
    mse = float(np.mean((x.astype(np.float64) - y.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def mean_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean with its two-sided Student-t interval over the values (nan interval for one value)."""
    from scipy import stats

    v = np.asarray([float(a) for a in values], float)
    if not v.size:
        return math.nan, math.nan, math.nan
    m = float(v.mean())
    if v.size < 2:
        return m, math.nan, math.nan
    if np.all(v == v[0]):
        return m, m, m
    h = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return m, m - h, m + h


def _draw_seed(seed: int, scheme: str, attack: str, d: int) -> np.random.SeedSequence:
    tag = [int(b) for b in f"{scheme}/{attack}".encode()]
    return np.random.SeedSequence([int(seed), d, *tag])


@dataclass
class Cell:
    """One scheme under one attack: per draw SSIM, PSNR, key bits; per image the classifier's answer."""

    scheme: str
    attack: str
    reason: str | None = None
    ssim: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    key_bits: list[float] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)
    extra: dict[str, list] = field(default_factory=dict)
    example: np.ndarray | None = None
    note: str = ""

    @property
    def measured(self) -> bool:
        return self.reason is None

    def add(self, plain: np.ndarray, recon: np.ndarray, labels: np.ndarray, clf: Any) -> None:
        from ppstudy.metrics import ssim_images

        self.ssim.append(float(ssim_images(plain, recon).mean()))
        self.psnr.append(psnr(plain, recon))
        if clf is not None:
            self.correct += clf.correct(recon, labels).tolist()
        if self.example is None:
            self.example = recon[0].copy()

    def summary(self) -> dict[str, Any]:
        from ppstudy.metrics import binomial_ci

        out: dict[str, Any] = {"scheme": self.scheme, "attack": self.attack, "reason": self.reason}
        if not self.measured:
            return out
        out["draws"] = len(self.ssim)
        out["ssim"] = mean_interval(self.ssim)
        finite = [p for p in self.psnr if math.isfinite(p)]
        out["exact_draws"] = len(self.psnr) - len(finite)
        out["psnr"] = mean_interval(finite) if finite else (math.inf, math.inf, math.inf)
        out["key_bits"] = mean_interval(self.key_bits) if self.key_bits else None
        if self.correct:
            k, n = int(sum(self.correct)), len(self.correct)
            out["accuracy"] = (k / n, *binomial_ci(k, n))
            out["images"] = n
        else:
            out["accuracy"], out["images"] = None, 0
        for name, v in self.extra.items():
            out[name] = mean_interval(v)
        return out


# ---------------------------------------------------------------------- the attacks, cell by cell
@dataclass
class Setting:
    """How much each cell runs (the profile's parameters)."""

    draws: int = 20
    images_per_draw: int = 10
    keyrec_images: int = 10
    prior_images: int = 2000
    kp_max_pairs: int = 8
    inv_train: int = 2000
    inv_pairs: int = 1000
    inv_epochs: int = 3
    inv_width: int = 8
    inv_batch: int = 64
    inv_budget_s: float = 300.0
    deid_size: int = 32
    deid_keys: int = 2
    deid_train: int = 500  # de-identification's networks train on at most this many images (tracing is slow)
    seed: int = 0


def face_setting(setting: Setting, **sizes: int) -> Setting:
    """``setting`` with the face part's own sizes (draws, images per draw, key-recovery images, pairs,
    inversion training sets, prior images), each a positive integer; the networks' widths, epochs and
    budget and the seed stay the chapter's."""
    import dataclasses

    from ppstudy import validate

    allowed = ("draws", "images_per_draw", "keyrec_images", "kp_max_pairs", "inv_train", "inv_pairs", "prior_images")
    for k in sizes:
        validate.choice("face setting", k, allowed)
    return dataclasses.replace(setting, **{k: validate.positive_int(f"face_{k}", v) for k, v in sizes.items()})


class Attacker:
    """Runs the cells: holds the data (CIFAR-10 or faces: the cells use the test images' shape), the plain
    classifier (anything with ``correct(images, labels)``: :class:`Classifier`, :class:`FaceClassifier`)
    and what the attacks reuse (priors, networks)."""

    def __init__(self, data: dict[str, Any], clf: Any, setting: Setting, progress: bool = True):
        self.data, self.clf, self.s, self.progress = data, clf, setting, progress
        self.public = data["x_train"]
        self.shape = tuple(int(v) for v in data["x_test"].shape[1:])  # CIFAR-10's 32 x 32 x 3, or faces
        self._priors: dict[Any, Any] = {}
        self.networks: dict[tuple[str, str], Any] = {}

    # ------------------------------------------------------------------ helpers
    def _note(self, msg: str) -> None:
        if self.progress:
            from ppstudy.progress import note

            note(msg)

    def _images(self, d: int, n: int, classes=None) -> np.ndarray:
        """The test images of draw ``d``: the first ``n`` of a random order of the test set (of ``classes``)
        that depends on the draw only, so that every scheme and attack sees the same images at draw ``d``
        (and the first image of draw 0 is every cell's example)."""
        y = self.data["y_test"]
        pool = np.arange(len(y)) if classes is None else np.flatnonzero(np.isin(y, classes))
        if len(pool) < n:
            raise InputError(f"need {n} test images, the pool holds {len(pool)}")
        tag = [] if classes is None else [1000 + int(c) for c in classes]
        order = np.random.default_rng(np.random.SeedSequence([int(self.s.seed), 7, d, *tag])).permutation(pool)
        return order[:n]

    def example_index(self) -> int:
        return int(self._images(0, 1)[0])

    def _prior(self, kind: str, **kw):
        from ppstudy.attacks import jigsaw
        from ppstudy.attacks import pixel as pixel_attack

        key = (kind, tuple(sorted(kw.items())))
        if key not in self._priors:
            pub = self.public[: self.s.prior_images]
            if kind == "pixel":
                self._priors[key] = pixel_attack.pixel_prior(pub, shuffle=kw["shuffle"], max_images=len(pub))
            else:
                self._priors[key] = jigsaw.JigsawPrior.fit(jigsaw.work_layout(pub, kw["grayscale"]))
        return self._priors[key]

    def _finish(self, cell: Cell, plain, recon, labels) -> None:
        from ppstudy.attacks.inversion import input_layout

        shape = self.shape
        cell.add(plain, input_layout(recon, shape) if recon.shape[1:] != shape else recon, labels, self.clf)

    # ------------------------------------------------------------------ a cell
    def cell(self, name: str, attack: str, *, classes=None) -> Cell:
        """Scheme ``name`` under ``attack`` over the setting's draws (of the test images of ``classes``
        only, when given: the one-class draws of the ciphertext-only attacks)."""
        scheme = SCHEMES[name]
        reason = no_attack_reason(scheme, attack)
        cell = Cell(name, attack, reason)
        if reason is not None:
            return cell
        spec = cipher_of(scheme, deid_size=self.s.deid_size, deid_keys=self.s.deid_keys)
        run = getattr(self, "_" + attack.replace("-", "_"))
        self._note(f"{name} / {attack}")
        run(cell, scheme, spec, classes)
        return cell

    def _released(self, cell, scheme, spec, classes):
        for d in range(self.s.draws):
            k_ss = _draw_seed(self.s.seed, scheme.name, "released", d)
            idx = self._images(d, self.s.images_per_draw)
            x = self.data["x_test"][idx]
            self._finish(cell, x, spec.encrypt(x, spec.keygen(self.shape, seed=k_ss)), self.data["y_test"][idx])

    def _keyrec(self, cell, scheme, spec, classes):
        from ppstudy.attacks import exhaustive, jigsaw
        from ppstudy.attacks import pixel as pixel_attack
        from ppstudy.ciphers import catmap, pixel

        whole = []
        for d in range(self.s.draws):
            k_ss = _draw_seed(self.s.seed, scheme.name, "keyrec" + ("" if classes is None else f"{classes}"), d)
            idx = self._images(d, self.s.keyrec_images, classes)
            x, labels = self.data["x_test"][idx], self.data["y_test"][idx]
            key = spec.keygen(self.shape, seed=k_ss)
            y = spec.encrypt(x, key)
            if scheme.kind == "pixel":
                shuffle = scheme.options["shuffle"]
                r = pixel_attack.pixel_key_recovery(y, self._prior("pixel", shuffle=shuffle), shuffle=shuffle)
                est = r["key"]
                cell.key_bits.append(pixel_attack.pixel_key_score(est, key)["key_bits"])
                whole.append(bool(np.array_equal(est.negpos, key.negpos) and np.array_equal(est.shuffle, key.shuffle)))
                recon = pixel.decrypt(y, est)
            elif scheme.kind == "etc":
                g = bool(scheme.options.get("grayscale", False))
                sol = jigsaw.solve(y, block=scheme.options["block"], grayscale=g, prior=self._prior("etc", grayscale=g))
                sc = jigsaw.score(sol, x, key)
                cell.key_bits.append(sc["key_cells"])
                whole.append(sc["key_cells"] == 1.0)
                cell.extra.setdefault("neighbour", []).append(sc["neighbour"])
                recon = sol.images
            else:  # catmap
                r = exhaustive.catmap_ciphertext_only(y, key.tile)
                ok = r["matrix"] == key.matrix
                cell.key_bits.append(1.0 if ok else 0.0)
                whole.append(ok)
                recon = catmap.apply_matrix(y, key.shape, key.tile, r["matrix"], inverse=True)
            self._finish(cell, x, recon, labels)
        cell.extra["whole_key"] = [float(w) for w in whole]

    def _jigsaw(self, cell, scheme, spec, classes):
        from ppstudy.attacks import jigsaw

        g = bool(scheme.options.get("grayscale", False))
        prior = self._prior("etc", grayscale=g)
        for d in range(self.s.draws):
            k_ss = _draw_seed(self.s.seed, scheme.name, "jigsaw", d)
            idx = self._images(d, self.s.images_per_draw)
            x, labels = self.data["x_test"][idx], self.data["y_test"][idx]
            key = spec.keygen(self.shape, seed=k_ss)
            y = spec.encrypt(x, key)
            recon, kb, nb, di = [], [], [], []
            for i in range(len(x)):  # one image at a time: the classic puzzle
                sol = jigsaw.solve(y[i : i + 1], block=scheme.options["block"], grayscale=g, prior=prior)
                sc = jigsaw.score(sol, x[i : i + 1], key)
                recon.append(sol.images[0])
                kb.append(sc["key_cells"])
                nb.append(sc["neighbour"])
                di.append(sc["direct"])
            cell.key_bits.append(float(np.mean(kb)))
            cell.extra.setdefault("neighbour", []).append(float(np.mean(nb)))
            cell.extra.setdefault("direct", []).append(float(np.mean(di)))
            self._finish(cell, x, np.stack(recon), labels)

    def _fold(self, cell, scheme, spec, classes):
        from ppstudy.attacks import fold

        for d in range(self.s.draws):
            k_ss = _draw_seed(self.s.seed, scheme.name, "fold", d)
            idx = self._images(d, self.s.images_per_draw)
            x = self.data["x_test"][idx]
            y = spec.encrypt(x, spec.keygen(self.shape, seed=k_ss))
            recon = fold.reconstruct(y, gray=bool(scheme.options["shuffle"]))
            self._finish(cell, x, recon, self.data["y_test"][idx])

    def _kp(self, cell, scheme, spec, classes):
        from ppstudy.attacks import known_plaintext as kp

        pairs = []
        for d in range(self.s.draws):
            k_ss = _draw_seed(self.s.seed, scheme.name, "kp", d)
            m, f = self.s.kp_max_pairs, self.s.images_per_draw
            idx = self._images(d, f + m)  # the draw's images are the fresh ones, the pairs come after
            x, labels = self.data["x_test"][idx], self.data["y_test"][idx]
            key = spec.keygen(self.shape, seed=k_ss)
            y = spec.encrypt(x, key)
            needed, rec = None, None
            for k in range(1, m + 1):
                rec = kp.recover(spec, x[f : f + k], y[f : f + k])
                if k == 1:
                    cell.key_bits.append(rec.key_bits)
                if rec.determined:
                    needed = k
                    break
            assert rec is not None
            pairs.append(math.nan if needed is None else float(needed))
            self._finish(cell, x[:f], rec.decrypt(y[:f]), labels[:f])
        cell.extra["pairs"] = pairs

    def _network(self, scheme, spec, mode: str):
        """The inversion network of ``scheme`` (trained once): keys drawn, or one target key's pairs."""
        from ppstudy.attacks import inversion

        if (scheme.name, mode) in self.networks:
            return self.networks[(scheme.name, mode)]
        s = self.s
        seed = int(np.random.SeedSequence([s.seed, *map(ord, scheme.name + mode)]).generate_state(1)[0] >> 1)
        cap = s.deid_train if scheme.kind == "deid" else None
        if mode == "drawn":
            plain = self.public[: s.inv_train][:cap]
            if scheme.kind == "deid":  # slow to trace: a fixed training set under a few keys of its own
                from ppstudy.ciphers import deid

                keys = [deid.keygen(seed=np.random.SeedSequence([seed, i])) for i in range(s.deid_keys)]
                enc: Any = np.concatenate(
                    [spec.encrypt(part, keys[i % len(keys)]) for i, part in enumerate(np.array_split(plain, len(keys)))]
                )
            else:
                enc = inversion.drawn_keys(spec, self.shape, seed)
            target = None
        else:
            plain = self.public[-s.inv_pairs :][:cap]  # the client's images the attacker knows
            target = spec.keygen(self.shape, seed=seed)
            enc = spec.encrypt(plain, target)
        net = inversion.train_inversion(
            plain,
            enc,
            epochs=s.inv_epochs,
            batch_size=s.inv_batch,
            width=s.inv_width,
            seed=seed % (2**31),
            time_budget_s=s.inv_budget_s or None,  # 0: no budget
        )
        self.networks[(scheme.name, mode)] = (net, target)
        return net, target

    def _inversion(self, cell, scheme, spec, mode: str):
        net, target = self._network(scheme, spec, mode)
        for d in range(self.s.draws):
            k_ss = _draw_seed(self.s.seed, scheme.name, "inv-" + mode, d)
            idx = self._images(d, self.s.images_per_draw)
            x = self.data["x_test"][idx]
            key = target if target is not None else spec.keygen(self.shape, seed=k_ss)
            self._finish(cell, x, net.reconstruct(spec.encrypt(x, key)), self.data["y_test"][idx])
        cell.extra["epochs"] = [float(len(net.history))]
        cell.extra["train_s"] = [float(net.seconds)]
        if target is not None:
            cell.note = "one target key; the draws are of test images"

    def _inv_drawn(self, cell, scheme, spec, classes):
        self._inversion(cell, scheme, spec, "drawn")

    def _inv_target(self, cell, scheme, spec, classes):
        self._inversion(cell, scheme, spec, "target")


def run_cells(attacker: Attacker, schemes, attacks) -> dict[tuple[str, str], Cell]:
    """Every cell of ``schemes`` x ``attacks`` (on one-channel faces, the schemes of :data:`FACE_SCHEMES`)."""
    from ppstudy import validate

    allowed = FACE_SCHEMES if attacker.shape[-1] == 1 else SCHEMES
    for s in schemes:
        validate.choice("scheme" if allowed is SCHEMES else "face scheme", s, allowed)
    for a in attacks:
        validate.choice("attack", a, ATTACKS)
    return {(s, a): attacker.cell(s, a) for s in schemes for a in attacks}


def class_draws(attacker: Attacker, schemes, classes, *, draws_per_class: int) -> dict[str, Cell]:
    """The ciphertext-only key recovery on draws of one class at a time (``draws_per_class`` draws of the
    test images of each class of ``classes``), for comparison with the uniform draws."""
    import dataclasses

    out = {}
    saved = attacker.s
    attacker.s = dataclasses.replace(saved, draws=draws_per_class)
    try:
        for s in schemes:
            if no_attack_reason(SCHEMES[s], "keyrec") is not None:
                continue
            merged = Cell(s, "keyrec-one-class")
            for c in classes:
                cl = attacker.cell(s, "keyrec", classes=[c])
                merged.ssim += cl.ssim
                merged.psnr += cl.psnr
                merged.key_bits += cl.key_bits
                merged.correct += cl.correct
                for k, v in cl.extra.items():
                    merged.extra.setdefault(k, []).extend(v)
            out[s] = merged
    finally:
        attacker.s = saved
    return out


# ---------------------------------------------------------------------- tables
def _iv(t, fmt: str = ".2f", scale: float = 1.0) -> str:
    m, lo, hi = (v * scale for v in t)
    if not math.isfinite(m):
        return "exact" if m == math.inf else "—"
    if not math.isfinite(lo) or lo == hi:
        return format(m, fmt)
    return f"{m:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def key_space_bits(scheme: Scheme) -> float | None:
    spec = cipher_of(scheme)
    if spec is None or not hasattr(spec, "key_space"):
        return None
    return float(spec.key_space(SHAPE).bits)


def scheme_rows(schemes) -> list[dict[str, Any]]:
    """The schemes as this chapter runs them (no data: an exact table)."""
    return [
        {
            "scheme": SCHEMES[s].label,
            "name": s,
            "studied in": SCHEMES[s].chapter,
            "measured: key space (bits)": key_space_bits(SCHEMES[s]),
        }
        for s in schemes
    ]


def attack_rows(attacks) -> list[dict[str, Any]]:
    return [
        {"attack": ATTACKS[a].label, "the attacker holds": ATTACKS[a].holds, "code": ATTACKS[a].module} for a in attacks
    ]


def matrix_rows(cells: dict, schemes, attacks, measure: str = "ssim") -> list[dict[str, Any]]:
    """The scheme x attack table: each measured cell's ``measure`` (``"ssim"`` or ``"accuracy"``) with its
    95% interval, or the reason why no attack of that column fits."""
    rows = []
    for s in schemes:
        row: dict[str, Any] = {"scheme": SCHEMES[s].label}
        for a in attacks:
            sm = cells[(s, a)].summary()
            if sm["reason"] is not None:
                row[ATTACKS[a].label] = "no such attack: " + sm["reason"]
            elif measure == "accuracy":
                row[ATTACKS[a].label] = _iv(sm["accuracy"], ".0f", 100.0) + " %" if sm["accuracy"] else "—"
            else:
                row[ATTACKS[a].label] = _iv(sm["ssim"])
        rows.append(row)
    return rows


def cell_rows(cells: dict) -> list[dict[str, Any]]:
    """Every measured cell with every measure and its interval (long format)."""
    rows = []
    for (s, a), c in cells.items():
        sm = c.summary()
        if sm["reason"] is not None:
            continue
        kb = sm["key_bits"] or (None, None, None)
        acc = sm["accuracy"] or (None, None, None)
        ps = sm["psnr"]
        rows.append(
            {
                "scheme": SCHEMES[s].label,
                "attack": ATTACKS[a].label,
                "draws": sm["draws"],
                "images": sm["images"],
                "measured: key bits": kb[0],
                "measured: key bits 95% low": kb[1],
                "measured: key bits 95% high": kb[2],
                "measured: SSIM": sm["ssim"][0],
                "measured: SSIM 95% low": sm["ssim"][1],
                "measured: SSIM 95% high": sm["ssim"][2],
                "measured: PSNR (dB)": ps[0] if math.isfinite(ps[0]) else None,
                "measured: PSNR 95% low": ps[1] if math.isfinite(ps[1]) else None,
                "measured: PSNR 95% high": ps[2] if math.isfinite(ps[2]) else None,
                "measured: exact draws": sm["exact_draws"],
                "measured: accuracy (%)": None if acc[0] is None else 100 * acc[0],
                "measured: accuracy 95% low": None if acc[1] is None else 100 * acc[1],
                "measured: accuracy 95% high": None if acc[2] is None else 100 * acc[2],
                "note": c.note,
            }
        )
    return rows


def kp_rows(cells: dict, schemes) -> list[dict[str, Any]]:
    """Known plaintext per scheme: the pairs that pinned the whole key, the key bits one pair gives."""
    rows = []
    for s in schemes:
        c = cells.get((s, "kp"))
        if c is None or not c.measured:
            continue
        pairs = np.asarray(c.extra["pairs"], float)
        ok = pairs[np.isfinite(pairs)]
        rows.append(
            {
                "scheme": SCHEMES[s].label,
                "draws": len(pairs),
                "measured: whole key (draws)": int(ok.size),
                "measured: pairs needed (mean)": float(ok.mean()) if ok.size else None,
                "measured: pairs needed (max)": float(ok.max()) if ok.size else None,
                "measured: key bits from one pair": mean_interval(c.key_bits)[0],
                "measured: fresh images decrypted exactly (draws)": c.summary()["exact_draws"],
            }
        )
    return rows


def class_rows(cells: dict, one_class: dict) -> list[dict[str, Any]]:
    """Ciphertext-only key recovery on uniform draws and on draws of one class at a time."""
    from ppstudy.metrics import binomial_ci

    rows = []
    for s, oc in one_class.items():
        for label, c in (("uniform over the test set", cells[(s, "keyrec")]), ("one class at a time", oc)):
            w = np.asarray(c.extra["whole_key"], float)
            k, n = int(w.sum()), int(w.size)
            lo, hi = binomial_ci(k, n)
            rows.append(
                {
                    "scheme": SCHEMES[s].label,
                    "draws of": label,
                    "draws": n,
                    "measured: whole key recovered": k / n,
                    "measured: 95% low": lo,
                    "measured: 95% high": hi,
                    "measured: key bits": mean_interval(c.key_bits)[0],
                    "measured: SSIM": mean_interval(c.ssim)[0],
                }
            )
    return rows


# ---------------------------------------------------------------------- utility: the other chapters' runs
#: where the accuracy with each scheme is published: (chapter, table, label column, rows (the best is
#: taken), accuracy column, the plain row of the same table)
UTILITY: dict[str, tuple[str, str, str, tuple[str, ...], str, str]] = {
    "etc4": ("pixel", "table2", "encryption", ("EtC [9, 10]",), "measured: accuracy (%)", "Plain image"),
    "tanaka": ("pixel", "table2", "encryption", ("Tanaka's scheme [6]",), "measured: accuracy (%)", "Plain image"),
    "pixel2": (
        "pixel",
        "table2",
        "encryption",
        ("Proposed (step 2) without adaptation", "Proposed (step 2) with adaptation"),
        "measured: accuracy (%)",
        "Plain image",
    ),
    "pixel23": (
        "pixel",
        "table2",
        "encryption",
        ("Proposed (steps 2 and 3) without adaptation", "Proposed (steps 2 and 3) with adaptation"),
        "measured: accuracy (%)",
        "Plain image",
    ),
    "chaotic": (
        "pixel",
        "table2",
        "encryption",
        ("Pixel-based [16] (logistic map + RC4)",),
        "measured: accuracy (%)",
        "Plain image",
    ),
    "deid": (
        "deid",
        "table6",
        "method",
        ("structural de-identification (this chapter)",),
        "measured: accuracy (%)",
        "plain images",
    ),
}


def published_utility(schemes, root: Path | None = None) -> list[dict[str, Any]]:
    """The accuracy each scheme keeps, from the chapters' published runs: per scheme the chapter, profile,
    commit and data of the run, the accuracy with the scheme (the best of the listed rows), the plain
    accuracy of the same table and ``utility`` = (accuracy - chance) / (plain - chance), chance = 1 / 10
    (CIFAR-10). A de-identification row counts for the tracer the run used. Schemes without a published
    CIFAR-10 accuracy are left out."""
    from ppstudy.manifest.store import load, published_run

    cache: dict[str, dict] = {}
    rows = []
    for s in schemes:
        sc = SCHEMES[s]
        src = UTILITY.get(s) or (UTILITY["deid"] if sc.kind == "deid" else None)
        if src is None:
            continue
        chapter, table, col, labels, acc_col, plain_label = src
        if chapter not in cache:
            try:
                d = published_run(chapter, root)
            except Exception:  # no published run of that chapter: nothing to read
                cache[chapter] = {}
                continue
            cache[chapter] = {"dir": d, "m": load(d)}
        if not cache[chapter]:
            continue
        m = cache[chapter]["m"]
        if sc.kind == "deid" and (m.get("params") or {}).get("tracer", "imagetracer") != sc.options["tracer"]:
            continue
        t = (m.get("tables") or {}).get(table)
        if not t:
            continue
        by = {r.get(col): r.get(acc_col) for r in t["rows"]}
        accs = [float(v) for lab in labels if (v := by.get(lab)) is not None]
        plain_v = by.get(plain_label)
        if not accs or plain_v is None:
            continue
        acc, plain, chance = max(accs), float(plain_v), 10.0
        data = m.get("data") or {}
        rows.append(
            {
                "scheme": sc.label,
                "name": s,
                "chapter": chapter,
                "profile": m.get("profile"),
                "commit": ((m.get("git") or {}).get("commit") or "")[:10],
                "data": data.get("description", "") if isinstance(data, dict) else str(data),
                "measured: accuracy (%)": acc,
                "measured: plain accuracy (%)": plain,
                "measured: utility": (acc - chance) / (plain - chance),
            }
        )
    return rows


# ---------------------------------------------------------------------- leakage and checks
def best_attack(cells: dict, scheme: str, attacks) -> tuple[str, dict] | None:
    """The attack whose reconstructions the plain classifier gets right most often (ties: higher SSIM)."""
    best = None
    for a in attacks:
        c = cells.get((scheme, a))
        if c is None or not c.measured or not c.correct:
            continue
        sm = c.summary()
        k = (sm["accuracy"][0], sm["ssim"][0])
        if best is None or k > best[0]:
            best = (k, a, sm)
    return None if best is None else (best[1], best[2])


def leakage_rows(cells: dict, schemes, attacks, plain_acc: float, chance: float) -> list[dict[str, Any]]:
    """Per scheme its best ciphertext-only attack (:data:`CIPHERTEXT_ONLY`: known pairs give every
    invertible scheme away), that attack's accuracy and SSIM, and ``leakage`` = (accuracy - chance) /
    (plain - chance) with the interval carried over from the accuracy's."""
    rows = []
    attacks = [a for a in attacks if a in CIPHERTEXT_ONLY]
    for s in schemes:
        b = best_attack(cells, s, attacks)
        if b is None:
            rows.append({"scheme": SCHEMES[s].label, "name": s, "best attack": "none (no attack applies)"})
            continue
        a, sm = b
        acc = sm["accuracy"]
        rel = [(v - chance) / (plain_acc - chance) for v in acc]
        rows.append(
            {
                "scheme": SCHEMES[s].label,
                "name": s,
                "best attack": ATTACKS[a].label,
                "measured: accuracy (%)": 100 * acc[0],
                "measured: accuracy 95% low": 100 * acc[1],
                "measured: accuracy 95% high": 100 * acc[2],
                "measured: SSIM": sm["ssim"][0],
                "measured: leakage": rel[0],
                "measured: leakage 95% low": rel[1],
                "measured: leakage 95% high": rel[2],
            }
        )
    return rows


def record(run, cells: dict, one_class: dict, schemes, attacks, plain: dict, chance: float, s: Setting) -> None:
    """The chapter's values and checks, each with its evidence and the tables that show it."""

    run.value("draws_n", s.draws, "d")
    run.value("images_per_draw_n", s.images_per_draw, "d")
    run.value("keyrec_images_n", s.keyrec_images, "d")
    run.value("kp_max_pairs_n", s.kp_max_pairs, "d")
    run.value("inv_pairs_n", s.inv_pairs, "d")
    run.value("plain_accuracy", 100 * plain["accuracy"], ".1f")
    run.value("chance_accuracy", 100 * chance, ".0f")
    run.value("keyrec_summary", _keyrec_summary(cells, schemes), "s")
    run.value(
        "one_class_summary", _keyrec_summary({(sc, "keyrec"): c for sc, c in one_class.items()}, list(one_class)), "s"
    )
    run.value("leak_summary", _leak_summary(cells, schemes, attacks), "s")
    _kp_check(run, cells, s, "", ["known_plaintext"])
    _keyrec_checks(run, cells, schemes, s, "", ["class_draws", "cells"])
    # the jigsaw: more than the cipher image shows, and less on the grayscale-based variant
    jig = {
        sc: cells[(sc, "jigsaw")].summary()
        for sc in schemes
        if cells.get((sc, "jigsaw")) and cells[(sc, "jigsaw")].measured
    }
    rel = {sc: cells[(sc, "released")].summary() for sc in jig if cells.get((sc, "released"))}
    if jig and rel:
        above = {
            sc: bool(jig[sc]["ssim"][1] > rel[sc]["ssim"][2]) for sc in jig if sc in rel and rel[sc]["reason"] is None
        }
        run.check(
            "jigsaw-beats-cipher",
            "On every EtC variant, the one-image jigsaw solver's reconstructions are closer to the originals "
            "(SSIM) than the cipher images are",
            all(above.values()),
            measured=", ".join(f"{sc}: {_iv(jig[sc]['ssim'])}" for sc in jig),
            evidence={
                "jigsaw SSIM": {sc: jig[sc]["ssim"] for sc in jig},
                "released SSIM": {sc: rel[sc]["ssim"] for sc in rel if rel[sc]["reason"] is None},
                "shown_in": ["matrix_ssim", "cells"],
            },
        )
    if "etc8" in jig and "etc-gray8" in jig:
        a, b = jig["etc-gray8"]["neighbour"], jig["etc8"]["neighbour"]
        run.value("neighbour_gray8", a[0], ".2f")
        run.value("neighbour_etc8", b[0], ".2f")
        run.check(
            "grayscale-resists-jigsaw",
            "The grayscale-based EtC keeps fewer neighbouring blocks together under the jigsaw solver than "
            "colour EtC with the same 8x8 blocks (neighbour comparison)",
            bool(a[2] < b[1]),
            measured=f"{_iv(a)} against {_iv(b)}",
            evidence={"grayscale-based": a, "colour": b, "shown_in": ["cells"]},
        )
    _leak_checks(run, cells, schemes, attacks, chance, "", ["leakage"])


def record_faces(run, cells: dict, schemes, attacks, plain: dict, chance: float, s: Setting) -> None:
    """The face part's values and checks (ids ending in ``-faces``), with the tables that show them."""
    run.value("face_draws_n", s.draws, "d")
    run.value("face_images_per_draw_n", s.images_per_draw, "d")
    run.value("face_keyrec_images_n", s.keyrec_images, "d")
    run.value("face_plain_accuracy", 100 * plain["accuracy"], ".1f")
    run.value("face_chance_accuracy", 100 * chance, ".1f")
    run.value("face_keyrec_summary", _keyrec_summary(cells, schemes), "s")
    run.value("face_leak_summary", _leak_summary(cells, schemes, attacks), "s")
    _kp_check(run, cells, s, "-faces", ["face_cells"])
    _keyrec_checks(run, cells, schemes, s, "-faces", ["face_cells"])
    _leak_checks(run, cells, schemes, attacks, chance, "-faces", ["face_matrix_accuracy", "face_cells"])


def _keyrec_summary(cells: dict, schemes) -> str:
    done = [
        (sc, cells[(sc, "keyrec")]) for sc in schemes if cells.get((sc, "keyrec")) and cells[(sc, "keyrec")].measured
    ]
    return (
        "; ".join(
            f"{SCHEMES[sc].label} {int(sum(c.extra['whole_key']))} of {len(c.extra['whole_key'])}" for sc, c in done
        )
        or "none run"
    )


def _leak_summary(cells: dict, schemes, attacks) -> str:
    cto = [a for a in attacks if a in CIPHERTEXT_ONLY]
    leaks = []
    for sc in schemes:
        b = best_attack(cells, sc, cto)
        if b is not None:
            leaks.append(f"{SCHEMES[sc].label}: {ATTACKS[b[0]].label}, {100 * b[1]['accuracy'][0]:.0f}%")
    return "; ".join(leaks) or "none run"


def _kp_check(run, cells: dict, s: Setting, tag: str, shown_in: list[str]) -> None:
    """``kp-whole-key<tag>``: known plaintext gives the whole key of every invertible scheme of ``cells``."""
    kp = {k[0]: c for k, c in cells.items() if k[1] == "kp" and c.measured}
    if not kp:
        return
    worst = {sc: np.asarray(c.extra["pairs"], float) for sc, c in kp.items()}
    ok = all(np.isfinite(v).all() for v in worst.values())
    most = max(float(np.nanmax(v)) if np.isfinite(v).any() else math.inf for v in worst.values())
    exact = all(c.summary()["exact_draws"] == len(c.psnr) for c in kp.values())
    run.value("kp_most_pairs" + tag.replace("-", "_"), most, ".0f")
    run.check(
        "kp-whole-key" + tag,
        f"Known plaintext gives the whole key of every invertible scheme{' on the faces' if tag else ''}, in every "
        f"draw, from at most {s.kp_max_pairs} pairs, and the key decrypts fresh images exactly",
        ok and exact,
        measured=f"at most {most:.0f} pairs" if math.isfinite(most) else "not in every draw",
        evidence={
            "pairs needed per scheme": {sc: v.tolist() for sc, v in worst.items()},
            "exact decryptions": exact,
            "shown_in": shown_in,
        },
    )


def _keyrec_checks(run, cells: dict, schemes, s: Setting, tag: str, shown_in: list[str]) -> None:
    """``keyrec-<scheme><tag>``: cipher images under one key give the whole key in most draws."""
    from ppstudy.metrics import binomial_ci

    for sc in schemes:
        c = cells.get((sc, "keyrec"))
        if c is None or not c.measured:
            continue
        w = np.asarray(c.extra["whole_key"], float)
        k, n = int(w.sum()), int(w.size)
        lo, hi = binomial_ci(k, n)
        v = f"{sc}{tag.replace('-', '_')}"
        run.value(f"keyrec_rate_{v}", k / n, ".2f")
        run.value(f"keyrec_ci_{v}", f"[{lo:.2f}, {hi:.2f}]", "s")
        run.check(
            f"keyrec-{sc}{tag}",
            f"{SCHEMES[sc].label}{' on the faces' if tag else ''}: cipher images alone ({s.keyrec_images} under "
            f"one key) give the whole key in most draws",
            lo > 0.5,
            measured=f"{k}/{n} draws",
            evidence={"whole key": k, "draws": n, "95% interval": [lo, hi], "shown_in": shown_in},
        )


def _leak_checks(run, cells: dict, schemes, attacks, chance: float, tag: str, shown_in: list[str]) -> None:
    """``leaks-<scheme><tag>``: the best ciphertext-only attack's reconstructions are recognised above
    chance."""
    cto = [a for a in attacks if a in CIPHERTEXT_ONLY]
    for sc in schemes:
        b = best_attack(cells, sc, cto)
        if b is None:
            continue
        a, sm = b
        acc = sm["accuracy"]
        run.check(
            f"leaks-{sc}{tag}",
            f"{SCHEMES[sc].label}{' on the faces' if tag else ''}: from cipher images alone, the plain "
            f"classifier recognises the reconstructions of the best attack ({ATTACKS[a].label}) above chance",
            bool(acc[1] > chance),
            measured=f"{100 * acc[0]:.1f}% [{100 * acc[1]:.1f}, {100 * acc[2]:.1f}]",
            evidence={"accuracy": acc, "chance": chance, "attack": a, "shown_in": shown_in},
        )


# ---------------------------------------------------------------------- arrays and figures
def example_arrays(attacker: Attacker, cells: dict, schemes, attacks) -> dict[str, np.ndarray]:
    """For the examples figure: the first test image of draw 0 and each measured cell's reconstruction of
    it (and nothing else)."""
    out = {"original": attacker.data["x_test"][attacker.example_index()]}
    for s in schemes:
        for a in attacks:
            c = cells[(s, a)]
            if c.measured and c.example is not None:
                out[f"{s}|{a}"] = c.example
    return out


def figure_arrays(leak: list[dict], util: list[dict]) -> dict[str, np.ndarray]:
    """What the utility-against-leakage figure needs: the schemes with both measures."""
    u = {r["name"]: r["measured: utility"] for r in util}
    rows = [r for r in leak if r["name"] in u and "measured: leakage" in r]
    return {
        "names": np.array([r["name"] for r in rows]),
        "utility": np.array([u[r["name"]] for r in rows], float),
        "leakage": np.array([r["measured: leakage"] for r in rows], float),
        "low": np.array([r["measured: leakage 95% low"] for r in rows], float),
        "high": np.array([r["measured: leakage 95% high"] for r in rows], float),
    }


def fig_frontier(manifest: dict, run_dir: Path):
    """Utility (the accuracy a scheme keeps, from the chapters' published runs) against leakage (how well
    the plain classifier recognises the best attack's reconstructions), both between chance (0) and plain (1)."""
    import matplotlib.pyplot as plt

    from ppstudy.manifest.store import load_arrays

    a = load_arrays(run_dir, "frontier")
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    err = np.vstack([a["leakage"] - a["low"], a["high"] - a["leakage"]])
    ax.errorbar(a["utility"], a["leakage"], yerr=err, fmt="o", capsize=3)
    for i, (name, x, y) in enumerate(zip(a["names"].tolist(), a["utility"], a["leakage"])):
        # the short names of the schemes table, above and below in turn so that neighbours do not collide
        ax.annotate(name, (x, y), xytext=(5, 5 if i % 2 == 0 else -12), textcoords="offset points", fontsize=9)
    ax.axhline(0, color="0.5", lw=0.8, ls="--")
    ax.axhline(1, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("utility: accuracy kept (0 chance, 1 plain)")
    ax.set_ylabel("leakage: best attack recognised (0 chance, 1 plain)")
    ax.set_xlim(-0.1, 1.15)
    fig.tight_layout()
    return fig


def _examples(manifest: dict, run_dir: Path, arrays: str, schemes_param: str, attacks_param: str):
    from ppstudy.manifest.store import load_arrays
    from ppstudy.plots import image_grid

    a = load_arrays(run_dir, arrays)
    params = manifest["params"]
    schemes = [s for s in params[schemes_param] if any(k.startswith(s + "|") for k in a)]
    attacks = [t for t in params[attacks_param] if any(k.endswith("|" + t) for k in a)]
    blank = np.full(a["original"].shape, 255, np.uint8)
    rows = [(SCHEMES[s].name, [a["original"]] + [a.get(f"{s}|{t}", blank) for t in attacks]) for s in schemes]
    return image_grid(rows, titles=["original", *attacks], cell=0.85, label_width=1.6)


def fig_examples(manifest: dict, run_dir: Path):
    """One test image per scheme (row) as each measured attack reconstructs it (column)."""
    return _examples(manifest, run_dir, "examples", "schemes", "attacks")


def fig_face_examples(manifest: dict, run_dir: Path):
    """One test face per face scheme (row) as each measured attack reconstructs it (column)."""
    return _examples(manifest, run_dir, "face_examples", "face_schemes", "face_attacks")


FIGURES: dict[str, Callable[[dict, Path], Any]] = {
    "frontier": fig_frontier,
    "examples": fig_examples,
    "face_examples": fig_face_examples,
}
