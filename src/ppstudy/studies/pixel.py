"""The pixel chapter: Sirichotedumrong, Maekawa, Kinoshita, Kiya (ICIP 2019).

Everything the notebook ``book/pixel.md`` computes lives here: the data (CIFAR-10 or the smoke set), the
eight cipher/model configurations of Table 2, the client/cloud augmentation comparison of Table 3, the
encrypted-image examples of Fig. 4, the key-space figures and the key-recovery measurement. Figures are
drawn from the run manifest and ``arrays.npz`` in the run directory (``FIGURES``), so ``ppstudy figures
pixel`` redraws them without retraining.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ppstudy import InputError

ARRAYS = "arrays.npz"

#: Table 2 of the paper: accuracy (%) with augmentation in the cloud (ResNet-18, CIFAR-10)
PAPER_TABLE2 = {
    "plain": 92.98,
    "step2": 85.15,
    "step2_adapt": 86.99,
    "step23": 82.51,
    "step23_adapt": 86.16,
    "tanaka": 56.41,
    "etc": 69.03,
    "chaotic": 58.59,
}
#: Table 3 of the paper: accuracy (%) with augmentation in the client / in the cloud
PAPER_TABLE3 = {
    "step2": (92.94, 85.15),
    "step2_adapt": (90.65, 86.99),
    "tanaka": (85.84, 56.41),
}


@dataclass(frozen=True)
class Config:
    """One row of Table 2: a cipher (``cipher`` name) and whether an adaptation network is used."""

    name: str
    label: str
    cipher: str  # "none" | "pixel2" | "pixel23" | "tanaka" | "etc" | "chaotic"
    adaptation: str  # "none" | "pixel" (1x1 network, M1=8, M2=32) | "block" (Tanaka's)


CONFIGS: dict[str, Config] = {
    c.name: c
    for c in (
        Config("plain", "Plain image", "none", "none"),
        Config("step2", "Proposed (step 2) without adaptation", "pixel2", "none"),
        Config("step2_adapt", "Proposed (step 2) with adaptation", "pixel2", "pixel"),
        Config("step23", "Proposed (steps 2 and 3) without adaptation", "pixel23", "none"),
        Config("step23_adapt", "Proposed (steps 2 and 3) with adaptation", "pixel23", "pixel"),
        Config("tanaka", "Tanaka's scheme [6]", "tanaka", "block"),
        Config("etc", "EtC [9, 10]", "etc", "none"),
        Config("chaotic", "Pixel-based [16] (logistic map + RC4)", "chaotic", "none"),
    )
}
TABLE3_ROWS = ("step2", "step2_adapt", "tanaka")
ETC_BLOCK = 4  # the paper does not give the EtC block size for 32x32 images; we use Tanaka's 4x4


# ------------------------------------------------------------------------------------------- data
def load_data(data: str, n_train: int, n_test: int, seed: int) -> dict[str, Any]:
    """The chapter's images: ``data`` = ``"smoke"`` (bundled photograph patches, balanced) or ``"cifar10"``
    (``n_train`` / ``n_test`` drawn with ``seed``; 0 means the whole split). Returns a dict with
    ``x_train, y_train, x_test, y_test, classes`` and ``source`` (a DataSource)."""
    from ppstudy.data import cifar10
    from ppstudy.data import source as datasource

    if data == "smoke":
        k = 8
        xtr, ytr, xte, yte, names = cifar10.smoke_dataset(max(1, n_train // k), max(1, n_test // k), seed=seed)
        src = datasource.smoke(
            f"{len(xtr)} training / {len(xte)} test 32x32 patches of {len(names)} scikit-image "
            f"photographs (class = photograph)"
        )
    elif data == "cifar10":
        xtr, ytr, xte, yte, src = cifar10.load_train_test(n_train, n_test, seed=seed)
        names = cifar10.CLASSES
    else:
        raise InputError(f"data must be 'smoke' or 'cifar10', got {data!r}")
    return {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte, "classes": tuple(names), "source": src}


def start(namespace: dict[str, Any], data: dict[str, Any]):
    """The chapter's :class:`~ppstudy.results.Run`, its parameters read from the notebook."""
    from ppstudy.results import Run

    run = Run.start("pixel", namespace)
    run.use_data(data["source"])
    return run


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


def train_row(
    cfg: Config,
    placement: str,
    data: dict[str, Any],
    keys,
    *,
    schedule,
    width: int,
    seed: int,
    device=None,
    checkpoint_dir: str | None = None,
    progress: bool = True,
) -> dict:
    """Train and test one configuration with augmentation in the ``client`` or the ``cloud``; the row's
    accuracy, epochs, s/epoch, images/s and peak GPU memory."""
    import torch

    from ppstudy import train

    if placement not in ("client", "cloud"):
        raise InputError(f"placement must be 'client' or 'cloud', got {placement!r}")
    dev = train._device(device or None)
    model = make_model(cfg, len(data["classes"]), width, seed)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    # the checkpoint directory is keyed by the fingerprint of data, key, model and schedule (train.fit)
    res = train.fit(
        model,
        (data["x_train"], data["y_train"]),
        (data["x_test"], data["y_test"]),
        schedule=schedule,
        transform=torch_transform(cfg.cipher, keys, dev),
        augment=train.Augment(pad=4, flip=True),
        augment_before_transform=(placement == "client"),
        seed=seed,
        device=dev,
        checkpoint_dir=checkpoint_dir or None,
        progress=progress,
        desc=f"{cfg.name}/{placement}",
        tag=f"{cfg.name}-{placement}",
    )
    secs = [h["seconds"] for h in res.history]
    return {
        "config": cfg.name,
        "placement": placement,
        "accuracy": 100.0 * float(res.history[-1]["test_acc"]),
        "best_accuracy": 100.0 * max(h["test_acc"] for h in res.history),
        "epochs": len(res.history),
        "s_per_epoch": float(np.mean(secs)) if secs else None,
        "images_per_s": res.images_per_s,
        "train_seconds": float(sum(secs)),
        "peak_gpu_mb": torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None,
        "params": sum(p.numel() for p in res.model.parameters()),
        "history": [{k: h[k] for k in ("epoch", "loss", "train_acc", "test_acc", "lr")} for h in res.history],
    }


def planned_rows(rows: list[str], table3: bool) -> list[tuple[str, str]]:
    """The trainings in priority order: Table 2's rows (cloud augmentation), then Table 3's client rows."""
    unknown = [r for r in rows if r not in CONFIGS]
    if unknown:
        raise InputError(f"unknown rows {unknown} (rows: {', '.join(CONFIGS)})")
    plan = [(r, "cloud") for r in rows]
    if table3:
        plan += [(r, "client") for r in TABLE3_ROWS if r in rows]
    return plan


def train_within_budget(
    plan: list[tuple[str, str]],
    data,
    keys,
    *,
    schedule,
    width: int,
    seed: int,
    time_budget_s: float = 0.0,
    device=None,
    checkpoint_dir=None,
    progress: bool = True,
    clock=None,
) -> tuple[dict, list[tuple[str, str]]]:
    """Train ``plan`` in order; with a budget, stop before a row whose expected time (the mean of the
    finished rows) would exceed what is left. Returns ``(results by (row, placement), not run)``."""
    import time

    clock = clock or time.perf_counter
    t0 = clock()
    results: dict[tuple[str, str], dict] = {}
    for k, (name, placement) in enumerate(plan):
        spent = clock() - t0
        if time_budget_s and results:
            expected = spent / len(results)
            if spent + expected > time_budget_s:
                return results, plan[k:]
        results[(name, placement)] = train_row(
            CONFIGS[name],
            placement,
            data,
            keys,
            schedule=schedule,
            width=width,
            seed=seed,
            device=device,
            checkpoint_dir=checkpoint_dir,
            progress=progress,
        )
    return results, []


def table2_rows(results: dict, rows: list[str]) -> list[dict]:
    """Table 2 beside the paper, one row per configuration (``—`` for a row that did not run)."""
    out = []
    for n in rows:
        r = results.get((n, "cloud"), {})
        out.append(
            {
                "encryption": CONFIGS[n].label,
                "paper: accuracy (%)": PAPER_TABLE2[n],
                "measured: accuracy (%)": r.get("accuracy"),
                "measured: best epoch (%)": r.get("best_accuracy"),
                "epochs": r.get("epochs"),
                "s/epoch": r.get("s_per_epoch"),
                "images/s": r.get("images_per_s"),
                "peak GPU MB": r.get("peak_gpu_mb"),
                "parameters": r.get("params"),
                "status": "trained" if r else "not run",
            }
        )
    return out


def table3_rows(results: dict, rows: list[str]) -> list[dict]:
    """Table 3: augmentation in the client against the cloud, beside the paper."""
    out = []
    for n in [r for r in TABLE3_ROWS if r in rows]:
        both = (n, "client") in results and (n, "cloud") in results
        out.append(
            {
                "encryption": CONFIGS[n].label,
                "paper: client (%)": PAPER_TABLE3[n][0],
                "measured: client (%)": results.get((n, "client"), {}).get("accuracy"),
                "paper: cloud (%)": PAPER_TABLE3[n][1],
                "measured: cloud (%)": results.get((n, "cloud"), {}).get("accuracy"),
                "status": "trained" if both else "not run",
            }
        )
    return out


def record_training(run, results: dict, not_run: list[tuple[str, str]], *, full_scale: bool) -> None:
    """Checks of Tables 2 and 3: the paper's orderings, and its levels where this run's scale allows."""
    acc = {k: v["accuracy"] for k, v in results.items()}
    run.value("training_runs", list(results.values()))
    run.value("not_run", [f"{n} ({p})" for n, p in not_run])
    needs = None if full_scale else "a GPU run at the paper's scale"

    def order(name, claim, a, b, paper):
        if a in acc and b in acc:
            run.check(
                name, claim, acc[a] > acc[b], kind="paper", paper=paper, measured=f"{acc[a]:.2f}% vs {acc[b]:.2f}%"
            )

    order(
        "plain-beats-encrypted",
        "Plain images score higher than the best encrypted row (cloud augmentation)",
        ("plain", "cloud"),
        max((k for k in acc if k[1] == "cloud" and k[0] != "plain"), key=lambda k: acc[k], default=None),
        f"{PAPER_TABLE2['plain']}% vs {max(v for k, v in PAPER_TABLE2.items() if k != 'plain')}%",
    )
    order(
        "pixel-beats-tanaka-in-cloud",
        "With augmentation in the cloud the pixel cipher (step 2) beats Tanaka's block cipher",
        ("step2", "cloud"),
        ("tanaka", "cloud"),
        f"{PAPER_TABLE2['step2']}% vs {PAPER_TABLE2['tanaka']}%",
    )
    order(
        "adaptation-helps-step2",
        "The adaptation network improves step 2 (cloud augmentation)",
        ("step2_adapt", "cloud"),
        ("step2", "cloud"),
        f"{PAPER_TABLE2['step2_adapt']}% vs {PAPER_TABLE2['step2']}%",
    )
    order(
        "tanaka-needs-client-augmentation",
        "Tanaka's scheme loses accuracy when augmentation moves to the cloud",
        ("tanaka", "client"),
        ("tanaka", "cloud"),
        f"{PAPER_TABLE3['tanaka'][0]}% vs {PAPER_TABLE3['tanaka'][1]}%",
    )
    keys = [("step2", "client"), ("step2", "cloud"), ("tanaka", "client"), ("tanaka", "cloud")]
    if all(k in acc for k in keys):
        loss_pixel = acc[("step2", "client")] - acc[("step2", "cloud")]
        loss_tanaka = acc[("tanaka", "client")] - acc[("tanaka", "cloud")]
        paper_pixel = PAPER_TABLE3["step2"][0] - PAPER_TABLE3["step2"][1]
        paper_tanaka = PAPER_TABLE3["tanaka"][0] - PAPER_TABLE3["tanaka"][1]
        run.value("cloud_loss_step2", loss_pixel, ".1f")
        run.value("cloud_loss_tanaka", loss_tanaka, ".1f")
        run.value("paper_cloud_loss_step2", paper_pixel, ".1f")
        run.value("paper_cloud_loss_tanaka", paper_tanaka, ".1f")
        run.check(
            "cloud-costs-pixel-less-than-tanaka",
            "Moving augmentation from the client to the cloud costs the pixel cipher (step 2) fewer points "
            "than Tanaka's scheme",
            loss_pixel < loss_tanaka,
            kind="paper",
            paper=f"{paper_pixel:.2f} vs {paper_tanaka:.2f} points",
            measured=f"{loss_pixel:.2f} vs {loss_tanaka:.2f} points",
        )
    for n, paper in PAPER_TABLE2.items():
        if (n, "cloud") in acc:
            gap = acc[(n, "cloud")] - paper
            run.check(
                f"table2-level-{n.replace('_', '-')}",
                f"{CONFIGS[n].label}: within 1 point of the paper's accuracy",
                abs(gap) <= 1.0,
                kind="paper",
                paper=f"{paper}%",
                measured=f"{acc[(n, 'cloud')]:.2f}%",
                needs=needs,
            )


# ------------------------------------------------------------------------------------------- security
def key_space_rows(shape=(32, 32, 3)) -> list[dict]:
    """Key-space sizes (log2 and decimal digits, exact) of the ciphers compared in the chapter."""
    from ppstudy import ciphers

    rows = []
    for label, name, paper in (
        ("Proposed, step 2", "pixel2", "2^(3n)"),
        ("Proposed, steps 2+3", "pixel23", "2^(3n) 6^n"),
        ("Tanaka", "tanaka", "96! 2^96"),
        (f"EtC ({ETC_BLOCK}x{ETC_BLOCK} blocks)", CIPHERS["etc"], None),
    ):
        ks = ciphers.get(name).key_space(shape, exact=True)
        rows.append(
            {
                "cipher": label,
                "key space (the paper's formula)": paper,
                "log2 of the key space": ks.bits,
                "decimal digits": ks.digits,
            }
        )
    return rows


def attack_success(
    pool: np.ndarray, public: np.ndarray, counts: list[int], *, draws: int, seed: int, draws_at: dict | None = None
) -> list[dict]:
    """Whole-key recovery rate of the ciphertext-only attack (:func:`ppstudy.attacks.pixel.success_rates`):
    for each variant and number of cipher images, ``draws`` random subsets of ``pool`` (``draws_at[n]`` for
    a count ``n`` it names), each encrypted under a fresh key (seeded per draw); the rate with its 95%
    Clopper-Pearson interval and the mean fraction of key bits recovered."""
    from ppstudy.attacks import pixel as attacks

    counts = sorted({int(min(c, len(pool))) for c in counts if c >= 2})
    draws_at = {int(k): int(v) for k, v in (draws_at or {}).items() if v}
    rows = []
    for shuffle in (False, True):
        prior = attacks.pixel_prior(public, shuffle=shuffle)
        found = [
            r
            for n in counts
            for r in attacks.success_rates(pool, prior, [n], draws=draws_at.get(n, draws), shuffle=shuffle, seed=seed)
        ]
        for r in found:
            rows.append(
                {
                    "cipher": r["cipher"],
                    "cipher images": r["cipher_images"],
                    "draws": r["draws"],
                    "successes": r["successes"],
                    "measured: whole key recovered": r["rate"],
                    "measured: 95% low": r["ci95_low"],
                    "measured: 95% high": r["ci95_high"],
                    "measured: mean key bits": r["mean_key_bits"],
                }
            )
    return rows


def record_attack(run, rows: list[dict]) -> None:
    """The attack's claims: the whole key from 10 cipher images in at least 99% of draws, per variant, read
    from the lower end of the 95% interval (only 367 draws or more can put it above 0.99, with no failure:
    0.025^(1/n) >= 0.99; 30 without a failure give 0.884)."""
    for variant in ("step 2", "steps 2+3"):
        rr = [r for r in rows if r["cipher"] == variant]
        at10 = next((r for r in rr if r["cipher images"] == 10), None)
        if at10 is None:
            continue
        tag = variant.replace(" ", "").replace("+", "")
        run.value(f"attack_rate_10_{tag}", at10["measured: whole key recovered"], ".2%")
        run.value(f"attack_10_{tag}", f"{at10['successes']} of {at10['draws']}", "s")
        run.value(f"attack_10_low_{tag}", at10["measured: 95% low"], ".3f")
        run.check(
            f"attack-10-images-{tag}",
            f"The whole key ({variant}) comes back from 10 cipher images in at least 99% of random draws "
            "(the lower end of the 95% interval)",
            at10["measured: 95% low"] >= 0.99,
            measured=f"{at10['successes']}/{at10['draws']} draws (95% interval "
            f"{at10['measured: 95% low']:.3f}–{at10['measured: 95% high']:.3f})",
        )


def scale_text(d: dict, epochs: int, width: int, schedule, results: dict | None = None) -> str:
    """This run's training scale in words, for the text beside Tables 2 and 3; with ``results``, the training
    time of every row's epochs (the same whether they ran in this process or were resumed from checkpoints)."""
    net = "ResNet-18" if width == 64 else f"ResNet-18 at width {width} (the paper's: 64)"
    spent = ""
    if results:
        total = sum(r.get("train_seconds") or 0.0 for r in results.values())
        spent = f"; {len(results)} trainings, {total / 60:,.0f} min of training steps in all (checkpointed per epoch)"
    return (
        f"{len(d['x_train']):,} training and {len(d['x_test']):,} test images, {net}, {epochs} epochs of the "
        f"{'paper' if schedule.name == 'paper' else 'one-cycle'} schedule (the paper: 50,000 / 10,000 images, "
        f"300 epochs){spent}"
    )


def not_run_text(not_run: list[tuple[str, str]]) -> str:
    if not not_run:
        return "Every planned row ran."
    return (
        "Not run within the time budget: "
        + ", ".join(f"{CONFIGS[n].label} ({p} augmentation)" for n, p in not_run)
        + "."
    )


# ------------------------------------------------------------------------------------------- figures
def fig4_examples(manifest: dict, run_dir: Path):
    """Fig. 4 (and Fig. 1): one image encrypted by every cipher of the chapter."""
    from ppstudy.plots import image_grid
    from ppstudy.results import load_arrays

    a = load_arrays(run_dir, "fig4")
    cols = [
        ("plain", "plain"),
        ("step2", "step 2"),
        ("step23", "steps 2+3"),
        ("tanaka_hi", "Tanaka\nupper bits"),
        ("tanaka_lo", "Tanaka\nlower bits"),
        ("etc", f"EtC {ETC_BLOCK}x{ETC_BLOCK}"),
        ("chaotic", "logistic\n+ RC4"),
    ]
    rows = [
        (label, [a[f"fig4_{r}_{k}"] for k, _ in cols])
        for r, label in (("small", "32x32"), ("large", "128x128"))
        if f"fig4_{r}_plain" in a
    ]
    return image_grid(rows, cell=1.0, label_width=0.9, titles=[t for _, t in cols])


def fig_training_curves(manifest: dict, run_dir: Path):
    """Test accuracy per epoch of every trained row (cloud and client augmentation)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    runs = manifest["values"].get("training_runs", [])
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 4.4), sharey=True, layout="constrained")
    handles = {}
    for ax, placement in zip(axes, ("cloud", "client")):
        for i, name in enumerate(CONFIGS):
            r = next((r for r in runs if r["config"] == name and r["placement"] == placement), None)
            if r is None:
                continue
            h = r["history"]
            (line,) = ax.plot(
                [e["epoch"] for e in h], [100 * e["test_acc"] for e in h], marker="o", ms=3, color=f"C{i}"
            )
            handles[CONFIGS[name].label] = line
        ax.set_title(f"augmentation in the {placement}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("test accuracy (%)")
    # below the axes, as tall as its rows (constrained layout makes the room)
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=2, frameon=False)
    return fig


def fig_key_recovery(manifest: dict, run_dir: Path):
    """Whole-key recovery rate against the number of cipher images, with 95% intervals."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    rows = manifest["tables"]["attack"]["rows"]
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    for c, m in (("step 2", "o"), ("steps 2+3", "s")):
        rr = [r for r in rows if r["cipher"] == c]
        x = np.array([r["cipher images"] for r in rr])
        y = np.array([r["measured: whole key recovered"] for r in rr])
        lo = np.array([r["measured: 95% low"] for r in rr])
        hi = np.array([r["measured: 95% high"] for r in rr])
        ax.errorbar(x, y, yerr=[y - lo, hi - y], marker=m, capsize=3, label=c)
    ax.set_xscale("log")
    counts = sorted({int(r["cipher images"]) for r in rows})
    ax.set_xticks(counts, [str(c) for c in counts])  # the counts run, no 10^k labels
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("cipher images encrypted with one key")
    ax.set_ylabel("draws with the whole key")
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
        return {
            "plain": img,
            "step2": pixel.encrypt(img, ks["pixel2"]),
            "step23": pixel.encrypt(img, ks["pixel23"]),
            "tanaka_hi": (t[..., :3] * 17).astype(np.uint8),
            "tanaka_lo": (t[..., 3:] * 17).astype(np.uint8),
            "etc": etc.encrypt(img, ks["etc"]),
            "chaotic": chaotic.encrypt(img, ks["chaotic"]),
        }

    out = {f"fig4_small_{k}": v for k, v in row(x_small, keys).items()}
    if large is not None:
        out.update({f"fig4_large_{k}": v for k, v in row(large, make_keys(large.shape, seed=7)).items()})
    return out
