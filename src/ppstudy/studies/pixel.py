"""The pixel chapter: Sirichotedumrong, Maekawa, Kinoshita, Kiya (ICIP 2019).

Everything the notebook ``book/pixel.md`` computes lives here: the data (CIFAR-10 or the smoke set), the
eight cipher/model configurations of Table 2, the client/cloud augmentation comparison of Table 3, the
encrypted-image examples of Fig. 4, the key-space figures and the key-recovery measurement. Figures are
drawn from the run manifest and ``arrays.npz`` in the run directory (``FIGURES``), so ``ppstudy figures
pixel`` redraws them without retraining.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ppstudy import InputError

ARRAYS = "arrays.npz"

#: Table 2 of the paper: accuracy (%) with augmentation in the cloud (ResNet-18, CIFAR-10)
PAPER_TABLE2 = {
    "plain": 92.98, "step2": 85.15, "step2_adapt": 86.99, "step23": 82.51, "step23_adapt": 86.16,
    "tanaka": 56.41, "etc": 69.03, "chaotic": 58.59,
}
#: Table 3 of the paper: accuracy (%) with augmentation in the client / in the cloud
PAPER_TABLE3 = {
    "step2": (92.94, 85.15), "step2_adapt": (90.65, 86.99), "tanaka": (85.84, 56.41),
}


@dataclass(frozen=True)
class Config:
    """One row of Table 2: a cipher (``cipher`` name) and whether an adaptation network is used."""

    name: str
    label: str
    cipher: str          # "none" | "pixel2" | "pixel23" | "tanaka" | "etc" | "chaotic"
    adaptation: str      # "none" | "pixel" (1x1 network, M1=8, M2=32) | "block" (Tanaka's)


CONFIGS: dict[str, Config] = {c.name: c for c in (
    Config("plain", "Plain image", "none", "none"),
    Config("step2", "Proposed (step 2) without adaptation", "pixel2", "none"),
    Config("step2_adapt", "Proposed (step 2) with adaptation", "pixel2", "pixel"),
    Config("step23", "Proposed (steps 2 and 3) without adaptation", "pixel23", "none"),
    Config("step23_adapt", "Proposed (steps 2 and 3) with adaptation", "pixel23", "pixel"),
    Config("tanaka", "Tanaka's scheme [6]", "tanaka", "block"),
    Config("etc", "EtC [9, 10]", "etc", "none"),
    Config("chaotic", "Pixel-based [16] (logistic map + RC4)", "chaotic", "none"),
)}
TABLE3_ROWS = ("step2", "step2_adapt", "tanaka")
ETC_BLOCK = 4  # the paper does not give the EtC block size for 32x32 images; we use Tanaka's 4x4


# ------------------------------------------------------------------------------------------- data
def load_data(data: str, n_train: int, n_test: int, seed: int):
    """``(x_train, y_train, x_test, y_test, class_names, description)`` for ``data`` = smoke | cifar10.

    ``n_train``/``n_test`` are totals; 0 means the whole split (CIFAR-10). The smoke set is balanced.
    """
    from ppstudy.data import cifar10

    if data == "smoke":
        k = 8
        xtr, ytr, xte, yte, names = cifar10.smoke_dataset(max(1, n_train // k), max(1, n_test // k), seed=seed)
        desc = (f"SMOKE data, not CIFAR-10: {len(xtr)} training / {len(xte)} test 32x32 patches of "
                f"{len(names)} scikit-image photographs (class = photograph)")
        return xtr, ytr, xte, yte, names, desc
    if data == "cifar10":
        xtr, ytr = cifar10.load("train")
        xte, yte = cifar10.load("test")
        rng = np.random.default_rng(seed)
        if n_train and n_train < len(xtr):
            i = np.sort(rng.choice(len(xtr), n_train, replace=False))
            xtr, ytr = xtr[i], ytr[i]
        if n_test and n_test < len(xte):
            i = np.sort(rng.choice(len(xte), n_test, replace=False))
            xte, yte = xte[i], yte[i]
        return xtr, ytr, xte, yte, cifar10.CLASSES, f"CIFAR-10 ({len(xtr)} training / {len(xte)} test images)"
    raise InputError(f"data must be 'smoke' or 'cifar10', got {data!r}")


# ------------------------------------------------------------------------------------------- ciphers
#: the cipher (registry name, see :mod:`ppstudy.ciphers`) behind each cipher column of Table 2
CIPHERS = {"pixel2": "pixel2", "pixel23": "pixel23", "tanaka": "tanaka", "etc": "etc4", "chaotic": "chaotic"}


def make_keys(shape=(32, 32, 3), seed: int = 2019) -> dict[str, Any]:
    """One key per cipher (each used for the whole data set), reproducible from ``seed``."""
    from ppstudy import ciphers

    ss = np.random.SeedSequence(seed).spawn(len(CIPHERS))
    return {c: ciphers.get(name).keygen(shape, seed=s) for (c, name), s in zip(CIPHERS.items(), ss)}


def encrypt_numpy(cipher: str, x: np.ndarray, keys: dict) -> np.ndarray:
    """Encrypt uint8 NHWC images with the numpy cipher ``cipher`` (``"none"``: unchanged)."""
    from ppstudy import ciphers

    return x if cipher == "none" else ciphers.get(CIPHERS[cipher]).encrypt(x, keys[cipher])


def torch_transform(cipher: str, keys: dict, device=None) -> Callable | None:
    """The cipher as a device-side torch callable on uint8 NCHW batches (None for plain images)."""
    if cipher == "none":
        return None
    if cipher not in CIPHERS:
        raise InputError(f"unknown cipher {cipher!r} (ciphers: none, {', '.join(CIPHERS)})")
    return keys[cipher].torch_transform(device)


def make_model(cfg: Config, num_classes: int, width: int, seed: int):
    import torch

    from ppstudy.models import AdaptationNetwork, BlockAdaptationNetwork, resnet18_cifar, with_adaptation

    torch.manual_seed(seed)
    net = resnet18_cifar(num_classes, width=width)
    if cfg.adaptation == "pixel":
        return with_adaptation(AdaptationNetwork(3, 8, 32, 3), net)
    if cfg.adaptation == "block":
        return with_adaptation(BlockAdaptationNetwork(6, 4, 3), net)
    return net


def make_schedule(schedule: str, epochs: int, batch_size: int, lr: float):
    """``"paper"`` (the paper's SGD steps) or ``"fast"`` (one-cycle): :mod:`ppstudy.schedules`."""
    from ppstudy import schedules

    if schedule not in ("paper", "fast"):
        raise InputError(f"schedule must be 'paper' or 'fast', got {schedule!r}")
    return schedules.get(schedule, epochs, lr=lr, batch_size=batch_size)


def train_row(cfg: Config, placement: str, data, keys, *, schedule, width: int, seed: int, device=None,
              checkpoint_dir: str | None = None, progress: bool = True) -> dict:
    """Train and test one configuration with augmentation in the ``client`` or the ``cloud``."""
    from ppstudy import train

    if placement not in ("client", "cloud"):
        raise InputError(f"placement must be 'client' or 'cloud', got {placement!r}")
    xtr, ytr, xte, yte, names = data[:5]
    dev = train._device(device or None)
    model = make_model(cfg, len(names), width, seed)
    # checkpoints live in a directory named by everything that determines the run (data, key, schedule,
    # model), so a rerun with other parameters starts afresh instead of refusing a foreign checkpoint
    h = hashlib.sha256()
    for part in (xtr, ytr, xte, yte):
        h.update(np.ascontiguousarray(part).tobytes())
    key = keys.get(cfg.cipher)
    for attr in ("gather", "mask"):
        if key is not None and hasattr(key, attr):
            h.update(np.ascontiguousarray(getattr(key, attr)).tobytes())
    h.update(repr((cfg, placement, schedule.name, schedule.describe, width, seed)).encode())
    run_id = h.hexdigest()[:12]
    ck = str(Path(checkpoint_dir) / f"{cfg.name}_{placement}_{run_id}") if checkpoint_dir else None
    res = train.fit(model, (xtr, ytr), (xte, yte), schedule=schedule,
                    transform=torch_transform(cfg.cipher, keys, dev), augment=train.Augment(pad=4, flip=True),
                    augment_before_transform=(placement == "client"), seed=seed, device=dev, checkpoint_dir=ck,
                    progress=progress, desc=f"{cfg.name}/{placement}", tag=f"pixel:{run_id}")
    return {"config": cfg.name, "placement": placement, "accuracy": 100.0 * res.test_acc,
            "best_accuracy": 100.0 * max(h["test_acc"] for h in res.history),
            "images_per_s": res.images_per_s, "train_seconds": res.train_seconds,
            "params": sum(p.numel() for p in res.model.parameters()),
            "history": [{k: h[k] for k in ("epoch", "loss", "train_acc", "test_acc", "lr")} for h in res.history]}


# ------------------------------------------------------------------------------------------- security
def key_space_rows(shape=(32, 32, 3)) -> list[dict]:
    """Key-space sizes (log2 and decimal digits, exact) of the ciphers compared in the chapter."""
    from ppstudy import ciphers

    rows = []
    for label, name, paper in (("Proposed, step 2: 2^(3n)", "pixel2", "2^{3n}"),
                               ("Proposed, steps 2+3: 2^(3n) 6^n", "pixel23", "2^{3n} 6^n"),
                               ("Tanaka: 96! 2^96", "tanaka", "96! 2^96"),
                               (f"EtC ({ETC_BLOCK}x{ETC_BLOCK} blocks)", CIPHERS["etc"], None)):
        ks = ciphers.get(name).key_space(shape, exact=True)
        rows.append({"cipher": label, "paper_formula": paper, "measured_log2": ks.bits,
                     "measured_decimal_digits": ks.digits})
    return rows


def attack_rows(x_plain: np.ndarray, x_public: np.ndarray, keys: dict, counts: list[int]) -> list[dict]:
    """Key recovery from ``count`` cipher images of one key, for step 2 and steps 2+3."""
    from ppstudy.attacks import pixel as attacks
    from ppstudy.ciphers import pixel

    rows = []
    for cipher, shuffle in (("pixel2", False), ("pixel23", True)):
        k = keys[cipher]
        y = pixel.encrypt(x_plain, k)
        for n in counts:
            r = attacks.pixel_key_recovery(y[:n], x_public, shuffle=shuffle)
            s = attacks.pixel_key_score(r["key"], k, x_public)
            best = max(attacks.pixel_key_score(c, k)["key_bits"] for c in r["candidates"])
            rows.append({"cipher": "steps 2+3" if shuffle else "step 2", "cipher_images": int(min(n, len(y))),
                         "measured_negpos_bits": s["negpos_bits"], "measured_permutations": s["permutations"],
                         "measured_key_bits": s["key_bits"], "measured_best_of_global_candidates": best,
                         "measured_values_decrypted": s["values"]})
    return rows


# ------------------------------------------------------------------------------------------- figures
def _imshow(ax, img, title):
    ax.imshow(img, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def fig4_examples(manifest: dict, run_dir: Path):
    """Fig. 4 (and Fig. 1): one image encrypted by every cipher of the chapter."""
    import matplotlib.pyplot as plt

    a = np.load(Path(run_dir) / ARRAYS)
    cols = [("plain", "plain"), ("step2", "proposed step 2"), ("step23", "proposed steps 2+3"),
            ("tanaka_hi", "Tanaka (upper 4 bits)"), ("tanaka_lo", "Tanaka (lower 4 bits)"),
            ("etc", f"EtC ({ETC_BLOCK}x{ETC_BLOCK})"), ("chaotic", "logistic + RC4 [16]")]
    rows = [r for r in ("small", "large") if f"fig4_{r}_plain" in a]
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(1.6 * len(cols), 1.8 * len(rows)), squeeze=False)
    for i, r in enumerate(rows):
        for j, (key, title) in enumerate(cols):
            _imshow(axes[i, j], a[f"fig4_{r}_{key}"], title if i == 0 else "")
    fig.tight_layout()
    return fig


def fig_training_curves(manifest: dict, run_dir: Path):
    """Test accuracy per epoch of every trained row (cloud and client augmentation)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    runs = manifest["values"].get("training_runs", [])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    for ax, placement in zip(axes, ("cloud", "client")):
        for r in runs:
            if r["placement"] != placement:
                continue
            h = r["history"]
            ax.plot([e["epoch"] for e in h], [100 * e["test_acc"] for e in h], marker="o", ms=3,
                    label=CONFIGS[r["config"]].label)
        ax.set_title(f"augmentation in the {placement}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.legend(fontsize=6)
    axes[0].set_ylabel("test accuracy (%)")
    fig.tight_layout()
    return fig


def fig_key_recovery(manifest: dict, run_dir: Path):
    """Fraction of the key recovered against the number of cipher images the attacker holds."""
    import matplotlib.pyplot as plt

    rows = manifest["tables"]["attack"]["rows"]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for c in ("step 2", "steps 2+3"):
        rr = [r for r in rows if r["cipher"] == c]
        ax.plot([r["cipher_images"] for r in rr], [r["measured_key_bits"] for r in rr], marker="o", label=c)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("cipher images encrypted with one key")
    ax.set_ylabel("fraction of key bits recovered")
    ax.legend()
    fig.tight_layout()
    return fig


FIGURES: dict[str, Callable[[dict, Path], Any]] = {
    "fig4_examples": fig4_examples,
    "training_curves": fig_training_curves,
    "key_recovery": fig_key_recovery,
}


def example_arrays(x_small: np.ndarray, keys: dict, large: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Images for Fig. 4: ``x_small`` (32x32x3) with the study keys, ``large`` with fresh keys of its shape."""
    from ppstudy.ciphers import chaotic, etc, pixel, tanaka

    def row(img, ks):
        t = tanaka.encrypt(img, ks["tanaka"])
        return {"plain": img, "step2": pixel.encrypt(img, ks["pixel2"]), "step23": pixel.encrypt(img, ks["pixel23"]),
                "tanaka_hi": (t[..., :3] * 17).astype(np.uint8), "tanaka_lo": (t[..., 3:] * 17).astype(np.uint8),
                "etc": etc.encrypt(img, ks["etc"]), "chaotic": chaotic.encrypt(img, ks["chaotic"])}

    out = {f"fig4_small_{k}": v for k, v in row(x_small, keys).items()}
    if large is not None:
        out.update({f"fig4_large_{k}": v for k, v in row(large, make_keys(large.shape, seed=7)).items()})
    return out
