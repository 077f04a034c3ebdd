"""The pixel chapter: Sirichotedumrong, Maekawa, Kinoshita, Kiya (ICIP 2019).

Everything the notebook ``book/pixel.md`` computes lives here: the data (CIFAR-10 or the smoke set), the
eight cipher/model configurations of Table 2, the client/cloud augmentation comparison of Table 3, the
encrypted-image examples of Fig. 4, the key-space figures and the key-recovery measurement. Figures are
drawn from the run manifest and ``arrays.npz`` in the run directory (``FIGURES``), so ``ppstudy figures
pixel`` redraws them without retraining.
"""

from __future__ import annotations

import os
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
        Config("tanaka", "Tanaka's scheme", "tanaka", "block"),
        Config("etc", "EtC (block scrambling)", "etc", "none"),
        Config("chaotic", "Chaotic (logistic map + RC4)", "chaotic", "none"),
    )
}
TABLE3_ROWS = ("step2", "step2_adapt", "tanaka")
ETC_BLOCK = 4  # the paper does not give the EtC block size for 32x32 images; we use Tanaka's 4x4


# ------------------------------------------------------------------------------------------- data
def load_data(data: str, n_train: int, n_test: int, seed: int) -> dict[str, Any]:
    """The chapter's images (:func:`ppstudy.studies.common.load_cifar10`)."""
    from ppstudy.studies import common

    return common.load_cifar10(data, n_train, n_test, seed)


def start(namespace: dict[str, Any], data: dict[str, Any]):
    """The chapter's run, its parameters read from the notebook (:func:`ppstudy.studies.common.start`)."""
    from ppstudy.studies import common

    return common.start("pixel", namespace, data["source"])


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


#: the classifier behind every row: the paper's ResNet-18, or the CPU recipe's network
#: (:func:`ppstudy.models.fastnet_cifar`, about 94% on plain CIFAR-10 in 10 epochs)
NETWORKS = ("resnet18", "fastnet")


def make_model(cfg: Config, num_classes: int, width: int, seed: int, network: str = "resnet18"):
    import torch

    from ppstudy.models import (
        AdaptationNetwork,
        BlockAdaptationNetwork,
        fastnet_cifar,
        resnet18_cifar,
        with_adaptation,
    )

    if network not in NETWORKS:
        raise InputError(f"network must be one of {NETWORKS}, got {network!r}")
    torch.manual_seed(seed)
    if network == "resnet18":
        net = resnet18_cifar(num_classes, width=width)
    else:  # the recipe's widths 64/256/256 at width 64, scaled with it
        net = fastnet_cifar(num_classes, widths=(width, 4 * width, 4 * width))
    if cfg.adaptation == "pixel":
        return with_adaptation(AdaptationNetwork(3, 8, 32, 3), net)
    if cfg.adaptation == "block":
        return with_adaptation(BlockAdaptationNetwork(6, 4, 3), net)
    return net


def make_schedule(schedule: str, epochs: int, batch_size: int, lr: float):
    """``"paper"`` (the paper's SGD steps), ``"fast"`` (one-cycle) or ``"triangle"`` (the CPU recipe's; ``lr``
    per 1,024 images): :mod:`ppstudy.schedules`."""
    from ppstudy import schedules

    if schedule not in ("paper", "fast", "triangle"):
        raise InputError(f"schedule must be 'paper', 'fast' or 'triangle', got {schedule!r}")
    return schedules.get(schedule, epochs, lr=lr, batch_size=batch_size)


#: the augmentations a row may use: the paper's (shift + flip), the CPU recipe's, none, and the paper's
#: factors one at a time (flip only, shift only) with a rotation, which the paper does not use, for contrast
AUGMENTS = ("paper", "recipe", "none", "flip", "shift", "rotation")
#: the one-factor study of cloud augmentation (:func:`factor_study`)
FACTORS = ("flip", "shift", "rotation")
ROTATION_DEGREES = 15.0  # torchvision's RandomRotation(15), a common CIFAR-10 setting


def make_augment(augment: str):
    """``"paper"``: shift by up to 4 pixels (zero border) and flip, the paper's; ``"recipe"``: the CPU
    recipe's 2-pixel shift with reflected borders and alternating flip; ``"none"``; ``"flip"`` and
    ``"shift"``: one of the paper's two alone; ``"rotation"``: a random rotation of up to 15 degrees alone.
    Where it is applied (client or cloud) is the row's placement."""
    from ppstudy import train

    table: dict[str, dict[str, Any]] = {
        "paper": dict(pad=4, flip=True),
        "recipe": dict(pad=2, flip=True, padding_mode="reflect", alternate_flip=True),
        "none": dict(pad=0, flip=False),
        "flip": dict(pad=0, flip=True),
        "shift": dict(pad=4, flip=False),
        "rotation": dict(pad=0, flip=False, rotate=ROTATION_DEGREES),
    }
    if augment not in table:
        raise InputError(f"augment must be one of {AUGMENTS}, got {augment!r}")
    return train.Augment(**table[augment])


def _pack(correct: np.ndarray) -> str:
    import base64

    return base64.b64encode(np.packbits(np.asarray(correct, dtype=bool)).tobytes()).decode()


def unpack_correct(row: dict) -> np.ndarray | None:
    """The 0/1 correctness of a row's final model on every test image (None for rows without it)."""
    import base64

    if not row.get("correct"):
        return None
    bits = np.unpackbits(np.frombuffer(base64.b64decode(row["correct"]), dtype=np.uint8))
    return bits[: int(row["n_test"])].astype(bool)


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
    network: str = "resnet18",
    augment: str = "paper",
    tta: str | None = None,
) -> dict:
    """Train and test one configuration with augmentation in the ``client`` or the ``cloud``; the row's
    final-epoch accuracy (never the best epoch's: that would select on the test set), the correctness of
    every test image, epochs, s/epoch, images/s, precision and peak GPU memory. Test-time variants
    (``tta``) are made where the augmentation is: of the plain images in the client, of the cipher images in
    the cloud."""
    import torch

    from ppstudy import train

    if placement not in ("client", "cloud"):
        raise InputError(f"placement must be 'client' or 'cloud', got {placement!r}")
    dev = train._device(device or None)
    model = make_model(cfg, len(data["classes"]), width, seed, network)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    # the checkpoint directory is keyed by the fingerprint of data, key, model and schedule (train.fit)
    res = train.fit(
        model,
        (data["x_train"], data["y_train"]),
        (data["x_test"], data["y_test"]),
        schedule=schedule,
        transform=torch_transform(cfg.cipher, keys, dev),
        augment=make_augment(augment),
        augment_before_transform=(placement == "client"),
        seed=seed,
        device=dev,
        checkpoint_dir=checkpoint_dir or None,
        progress=progress,
        desc=f"{cfg.name}/{placement}",
        tag=f"{cfg.name}-{placement}" + (f"-{network}" if network != "resnet18" else ""),
        tta=tta,
        test_every=1 if tta is None else schedule.epochs,
        channels_last="auto",
    )
    acc, correct = train.evaluate(
        res.model,
        data["x_test"],
        data["y_test"],
        transform=torch_transform(cfg.cipher, keys, dev),
        device=dev,
        normalization=res.normalization,
        tta=tta,
        tta_before_transform=(placement == "client"),
        precision=res.precision,
        return_correct=True,
    )
    secs = [h["seconds"] for h in res.history]
    return {
        "config": cfg.name,
        "placement": placement,
        "accuracy": 100.0 * float(acc),
        "correct": _pack(correct),
        "n_test": int(len(correct)),
        "network": network,
        "seed": int(seed),
        "precision": res.precision,
        "channels_last": res.channels_last,
        "tta": tta,
        "epochs": len(res.history),
        "s_per_epoch": float(np.mean(secs)) if secs else None,
        "images_per_s": res.images_per_s,
        "train_seconds": float(sum(secs)),
        "resumed_seconds": res.resumed_seconds,  # of train_seconds, done by an earlier invocation (checkpoint)
        "peak_gpu_mb": torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None,
        "params": sum(p.numel() for p in res.model.parameters()),
        "history": [{k: h.get(k) for k in ("epoch", "loss", "train_acc", "test_acc", "lr")} for h in res.history],
    }


def planned_rows(rows: list[str], table3: bool, seed_rows: list[str] | None = None, seeds: int = 1):
    """The trainings in priority order: Table 2's rows (cloud augmentation), then Table 3's client rows,
    then the extra seeds (``seeds`` - 1 more of each of ``seed_rows``, cloud augmentation) that measure the
    seed spread. Each entry is ``(row, placement)`` or, for an extra seed, ``(row, placement, seed offset)``."""
    unknown = [r for r in [*rows, *(seed_rows or [])] if r not in CONFIGS]
    if unknown:
        raise InputError(f"unknown rows {unknown} (rows: {', '.join(CONFIGS)})")
    plan: list = [(r, "cloud") for r in rows]
    if table3:
        plan += [(r, "client") for r in TABLE3_ROWS if r in rows]
    plan += [(r, "cloud", k) for k in range(1, int(seeds)) for r in (seed_rows or [])]
    return plan


def row_name(entry) -> str:
    """``plain/cloud``, or ``plain/cloud/seed+1`` for an extra seed."""
    return "/".join(entry[:2]) + (f"/seed+{entry[2]}" if len(entry) > 2 else "")


def row_spec(entry, data_digest: str, keys, *, schedule, width, seed, network, augment, tta) -> dict:
    """Everything that determines a row's result (the row cache's key): the configuration and placement,
    the data's digest, the cipher key's fingerprint, network, schedule, augmentation, test-time variants and
    seed. The precision (bf16 / float32) is the machine's and is recorded in the result, not the key."""
    cfg = CONFIGS[entry[0]]
    tr = torch_transform(cfg.cipher, keys, "cpu")
    return {
        "chapter": "pixel",
        "row": cfg.name,
        "placement": entry[1],
        "cipher": cfg.cipher,
        "adaptation": cfg.adaptation,
        "key": getattr(tr, "fingerprint", None),
        "data": data_digest,
        "network": network,
        "width": width,
        "schedule": schedule.name,
        "schedule_settings": schedule.describe,
        "augment": repr(make_augment(augment)),
        "tta": tta,
        "seed": int(seed) + (entry[2] if len(entry) > 2 else 0),
    }


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
    network: str = "resnet18",
    augment: str = "paper",
    tta: str | None = None,
    row_cache: str | os.PathLike | None = None,
    workers: int = 0,
) -> tuple[dict, list, list]:
    """Train ``plan`` in order, reusing the rows ``row_cache`` holds (:mod:`ppstudy.rowcache`: a row's
    result is kept there as soon as it finishes, keyed by :func:`row_spec`); with a budget, stop before a
    row whose expected time (the mean of the rows trained here) would exceed what is left. ``workers`` > 0
    runs the missing rows on a Dask LocalCluster of that many workers. Returns ``(results by entry, not
    run, reused from the cache)``; an entry is ``(row, placement)`` or ``(row, placement, seed offset)``."""
    import time

    from ppstudy import rowcache, train

    digest = train.data_digest(data["x_train"], data["y_train"], data["x_test"], data["y_test"])
    common = dict(schedule=schedule, width=width, network=network, augment=augment, tta=tta)
    tasks = []
    for entry in plan:
        spec = row_spec(entry, digest, keys, seed=seed, **common)
        kwargs = dict(
            cfg=CONFIGS[entry[0]],
            placement=entry[1],
            data=data,
            keys=keys,
            seed=spec["seed"],
            device=device,
            checkpoint_dir=checkpoint_dir,
            progress=progress,
            **common,
        )
        tasks.append(rowcache.RowTask(row_name(entry), spec, train_row, kwargs))
    cache = rowcache.RowCache(row_cache) if row_cache else None
    by_name = {row_name(e): e for e in plan}
    client = None
    if workers:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, dashboard_address=None)
        client = Client(cluster)
    try:
        done, reused, not_run = rowcache.run_rows(
            tasks, cache, budget_s=time_budget_s, client=client, clock=clock or time.perf_counter
        )
    finally:
        if client is not None:
            client.close()
            cluster.close()
    results = {by_name[n]: ({**r, "from_row_cache": True} if n in reused else r) for n, r in done.items()}
    return results, [by_name[n] for n in not_run], [by_name[n] for n in reused]


def reused_seconds(results: dict) -> float:
    """Seconds of training steps that ``results`` hold but this invocation did not spend: rows read from the
    row cache (all of theirs) and epochs resumed from checkpoints (``Run.reused_compute``)."""
    return float(
        sum(
            (r.get("train_seconds") or 0.0) if r.get("from_row_cache") else (r.get("resumed_seconds") or 0.0)
            for r in results.values()
        )
    )


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


def seed_spread(results: dict) -> dict | None:
    """The spread over seeds of the rows trained with extra seeds (:func:`planned_rows`): per row the
    accuracies (points) and their sample sd; ``sd`` is the largest of them (None when none was measured)."""
    from ppstudy import metrics

    per: dict[tuple, list] = {}
    for entry, r in results.items():
        if len(entry) > 2 and (entry[0], entry[1]) in results:
            per.setdefault((entry[0], entry[1]), [results[(entry[0], entry[1])]["accuracy"]]).append(r["accuracy"])
    if not per:
        return None
    rows = {f"{k[0]}/{k[1]}": metrics.spread(v) for k, v in per.items()}
    return {"rows": rows, "sd": max(v["sd"] for v in rows.values())}


def record_training(
    run, results: dict, not_run: list, *, full_scale: bool, network: str = "resnet18", reused: list | None = None
) -> None:
    """Checks of Tables 2 and 3. Orderings are judged by the book's one policy
    (:func:`ppstudy.metrics.ordering_verdict`): the 95% interval of the accuracy difference (paired
    bootstrap over the test images, widened by the measured seed spread) above 0, below 0, or containing 0
    (this run cannot settle it). Levels compare with the paper's ResNet-18 only when this run trained the
    paper's network at the paper's scale (``full_scale``)."""
    from ppstudy import metrics

    main = {k: v for k, v in results.items() if len(k) == 2}
    acc = {k: v["accuracy"] for k, v in main.items()}
    run.reused_compute(reused_seconds(results), "training read from the row cache or resumed from checkpoints")
    run.value("training_runs", list(main.values()))
    run.value("seed_runs", [dict(r, seed_offset=k[2]) for k, r in results.items() if len(k) > 2])
    run.value("not_run", [row_name(e) for e in not_run])
    run.value("reused_rows", [row_name(e) for e in (reused or [])])
    spread = seed_spread(results)
    run.value("seed_spread", spread)
    sd = (spread["sd"] / 100.0) if spread else 0.0
    spread_note = (
        f"seed spread {spread['sd']:.2f} points (sd over {max(v['n'] for v in spread['rows'].values())} seeds)"
        if spread
        else "seed spread not measured (test-set interval only)"
    )
    run.value("spread_note", spread_note, "s")
    paper_net = "ResNet-18" if network == "resnet18" else "the paper's network (ResNet-18)"
    needs = None if full_scale else f"{paper_net} at the paper's scale (a GPU run)"
    correct = {k: unpack_correct(v) for k, v in main.items()}

    def shown(keys) -> list[str]:
        # Table 2 holds the cloud rows; Table 3 puts client and cloud side by side
        return ["table2", "orderings"] if all(k[1] == "cloud" for k in keys) else ["table3", "orderings"]

    def judge(name, claim, keys, weights, paper, measured_text):
        vs = [correct.get(k) for k in keys]
        if (
            any(v is None for v in vs) or len({len(v) for v in vs if v is not None}) != 1
        ):  # rows of an older run: no intervals
            run.check(
                name,
                claim,
                False,
                kind="paper",
                paper=paper,
                measured=measured_text,
                evidence={
                    "rows": [row_name(k) for k in keys],
                    "per-image results": "not recorded",
                    "shown_in": shown(keys),
                },
                needs="a rerun that records each test image's result (no interval)",
            )
            return
        iv = metrics.contrast_interval(vs, weights, seed_sd=sd)
        passed, more = metrics.ordering_verdict(iv)
        run.check(
            name,
            claim,
            passed,
            kind="paper",
            paper=paper,
            measured=f"{measured_text}; difference {100 * iv['diff']:+.2f} [{100 * iv['lo']:+.2f}, "
            f"{100 * iv['hi']:+.2f}] points",
            evidence={
                "interval": iv,
                "rows": [row_name(k) for k in keys],
                "weights": list(weights),
                "seed_spread": spread_note,
                "shown_in": shown(keys),
            },
            needs=more,
        )

    def order(name, claim, a, b, paper):
        if a in acc and b in acc:
            judge(name, claim, [a, b], [1.0, -1.0], paper, f"{acc[a]:.2f}% vs {acc[b]:.2f}%")

    best_enc = max((k for k in acc if k[1] == "cloud" and k[0] != "plain"), key=lambda k: acc[k], default=None)
    order(
        "plain-beats-encrypted",
        "Plain images score higher than the best encrypted row (cloud augmentation)",
        ("plain", "cloud"),
        best_enc,
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
        "adaptation-helps-step23",
        "The adaptation network improves steps 2 and 3 (cloud augmentation)",
        ("step23_adapt", "cloud"),
        ("step23", "cloud"),
        f"{PAPER_TABLE2['step23_adapt']}% vs {PAPER_TABLE2['step23']}%",
    )
    for other in ("etc", "chaotic"):
        order(
            f"adapted-pixel-beats-{other}",
            f"The pixel cipher with adaptation (step 2) beats {CONFIGS[other].label} (cloud augmentation)",
            ("step2_adapt", "cloud"),
            (other, "cloud"),
            f"{PAPER_TABLE2['step2_adapt']}% vs {PAPER_TABLE2[other]}%",
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
        # loss_tanaka - loss_pixel > 0: the contrast of the four rows' accuracies
        judge(
            "cloud-costs-pixel-less-than-tanaka",
            "Moving augmentation from the client to the cloud costs the pixel cipher (step 2) fewer points "
            "than Tanaka's scheme",
            keys,
            [-1.0, 1.0, 1.0, -1.0],
            f"{paper_pixel:.2f} vs {paper_tanaka:.2f} points",
            f"{loss_pixel:.2f} vs {loss_tanaka:.2f} points",
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
                evidence={
                    "paper": paper,
                    "measured": acc[(n, "cloud")],
                    "gap": gap,
                    "bar": 1.0,
                    "shown_in": ["table2"],
                },
                needs=needs,
            )


# ------------------------------------------------------------------------------------------- one factor at a time
def budget_left(time_budget_s: float, results: dict, reused: list) -> float:
    """What is left of ``time_budget_s`` after the training steps of the rows trained in this invocation
    (rows read from the row cache cost nothing); 0 means no limit, and a spent budget is a tiny positive
    one, so that nothing more is trained."""
    if not time_budget_s:
        return 0.0
    spent = sum(
        (r.get("train_seconds") or 0.0) - (r.get("resumed_seconds") or 0.0)
        for e, r in results.items()
        if e not in set(reused)
    )
    return max(float(time_budget_s) - spent, 1e-9)


def seed_sd(results: dict) -> float:
    """The measured seed spread (:func:`seed_spread`) as a fraction; 0 where it was not measured."""
    spread = seed_spread(results)
    return spread["sd"] / 100.0 if spread else 0.0


def factor_study(
    data,
    keys,
    *,
    rows=("step2", "tanaka"),
    factors=FACTORS,
    n_train: int = 5000,
    schedule,
    width: int,
    seed: int,
    network: str = "resnet18",
    time_budget_s: float = 0.0,
    device=None,
    checkpoint_dir=None,
    progress: bool = True,
    row_cache=None,
    clock=None,
) -> tuple[dict, list]:
    """What in cloud augmentation costs accuracy, one factor at a time: for each factor (flip only, shift
    only, rotation only) each row of ``rows`` trained with that augmentation in the client (plain images,
    then encryption) and in the cloud (cipher images), on the first ``n_train`` training images (0: all),
    scored on every test image, without test-time variants. Returns ``({(row, placement, factor): result},
    not run)``; rows go through the row cache as Tables 2 and 3 do."""
    import time

    from ppstudy import validate

    n_train = validate.integer("factor_study: n_train", n_train, low=0)
    for f in factors:
        validate.choice("factor_study: factor", f, FACTORS)
    for r in rows:
        validate.choice("factor_study: row", r, CONFIGS)
    sub = dict(data)
    if n_train:
        sub["x_train"], sub["y_train"] = data["x_train"][:n_train], data["y_train"][:n_train]
    clock = clock or time.perf_counter
    start = clock()
    results: dict = {}
    not_run: list = []
    plan = [(r, p) for r in rows for p in ("client", "cloud")]
    for f in factors:
        left = time_budget_s - (clock() - start) if time_budget_s else 0.0
        if time_budget_s and left <= 1e-6:
            not_run += [(*e, f) for e in plan]
            continue
        done, missing, _ = train_within_budget(
            plan,
            sub,
            keys,
            schedule=schedule,
            width=width,
            seed=seed,
            network=network,
            augment=f,
            tta=None,
            time_budget_s=max(left, 1e-9) if time_budget_s else 0.0,
            device=device,
            checkpoint_dir=checkpoint_dir,
            progress=progress,
            row_cache=row_cache,
            clock=clock,
        )
        results.update({(*e, f): r for e, r in done.items()})
        not_run += [(*e, f) for e in missing]
    return results, not_run


def factor_rows(results: dict, rows=("step2", "tanaka"), factors=FACTORS, *, seed_sd: float = 0.0) -> list[dict]:
    """The one-factor table: per row and factor the client and cloud accuracies and the cost of moving
    that augmentation to the cloud (client - cloud, points) with its 95% interval (paired bootstrap over the
    test images, widened by the seed spread ``seed_sd``, a fraction)."""
    from ppstudy import metrics

    out = []
    for f in factors:
        for r in rows:
            a, b = results.get((r, "client", f)), results.get((r, "cloud", f))
            cost = lo = hi = None
            if a and b:
                ca, cb = unpack_correct(a), unpack_correct(b)
                if ca is not None and cb is not None and ca.shape == cb.shape:
                    iv = metrics.contrast_interval([ca, cb], [1.0, -1.0], seed_sd=seed_sd)
                    cost, lo, hi = 100 * iv["diff"], 100 * iv["lo"], 100 * iv["hi"]
            out.append(
                {
                    "augmentation": f,
                    "encryption": CONFIGS[r].label,
                    "client (%)": a["accuracy"] if a else None,
                    "cloud (%)": b["accuracy"] if b else None,
                    "cost of the cloud (points)": cost,
                    "95% interval": None if cost is None else f"[{lo:+.2f}, {hi:+.2f}]",
                    "status": "trained" if a and b else "not run",
                }
            )
    return out


def record_factors(
    run, results: dict, not_run: list, *, pixel_row: str = "step2", factors=FACTORS, seed_sd: float = 0.0
) -> None:
    """The paper's explanation of Table 3 as a check: shifting splits the 4x4 blocks Tanaka's block
    adaptation layer acts on, while the pixel cipher's 1x1 adaptation sees one pixel, so shifting in the
    cloud should cost Tanaka's scheme more than the pixel cipher (a difference of differences of four
    rows, with its interval); flip and rotation are reported beside it."""
    from ppstudy import metrics

    run.value("factor_not_run", [row_name(e[:2]) + f"/{e[2]}" for e in not_run])
    run.reused_compute(reused_seconds(results), "training read from the row cache or resumed from checkpoints")
    costs = {}
    for row in factor_rows(results, (pixel_row, "tanaka"), factors, seed_sd=seed_sd):
        costs[(row["encryption"], row["augmentation"])] = row["cost of the cloud (points)"]
    for f in factors:
        for r in (pixel_row, "tanaka"):
            v = costs.get((CONFIGS[r].label, f))
            run.value(f"factor_cost_{f}_{r}", v, ".1f")
    keys = [
        ("tanaka", "client", "shift"),
        ("tanaka", "cloud", "shift"),
        (pixel_row, "client", "shift"),
        (pixel_row, "cloud", "shift"),
    ]
    vs = [unpack_correct(results[k]) if k in results else None for k in keys]
    claim = (
        "Shifting in the cloud costs Tanaka's scheme more than the pixel cipher (the paper's explanation: the "
        "block adaptation layer's kernel overlaps adjacent blocks)"
    )
    if any(v is None for v in vs) or len({v.shape for v in vs if v is not None}) != 1:
        run.check(
            "shift-splits-tanaka-blocks",
            claim,
            False,
            kind="paper",
            evidence={"rows": [row_name(k[:2]) + f"/{k[2]}" for k in keys], "trained": [k in results for k in keys]},
            needs="the one-factor rows (not run)",
        )
        return
    iv = metrics.contrast_interval(vs, [1.0, -1.0, -1.0, 1.0], seed_sd=seed_sd)
    passed, needs = metrics.ordering_verdict(iv)
    run.check(
        "shift-splits-tanaka-blocks",
        claim,
        passed,
        kind="paper",
        paper="explanation only (no one-factor experiment)",
        measured=f"{100 * iv['diff']:+.2f} points [{100 * iv['lo']:+.2f}, {100 * iv['hi']:+.2f}]",
        evidence={"interval": iv, "rows": [row_name(k[:2]) + f"/{k[2]}" for k in keys], "shown_in": ["factors"]},
        needs=needs,
    )


def verdict_summary(manifest_checks: dict) -> list[dict]:
    """The orderings of Tables 2 and 3 with their verdicts, those that differ included (for the summary)."""
    names = [
        "plain-beats-encrypted",
        "pixel-beats-tanaka-in-cloud",
        "adaptation-helps-step2",
        "adaptation-helps-step23",
        "adapted-pixel-beats-etc",
        "adapted-pixel-beats-chaotic",
        "tanaka-needs-client-augmentation",
        "cloud-costs-pixel-less-than-tanaka",
    ]
    rows = [
        {
            "check": n,
            "claim": manifest_checks[n]["claim"],
            "status": manifest_checks[n]["status"],
            "this run": manifest_checks[n]["measured"],
        }
        for n in names
        if n in manifest_checks
    ]
    return rows or [
        {
            "check": "—",
            "claim": "no ordering could be judged: no rows of Tables 2 and 3 were trained",
            "status": "not run",
            "this run": "—",
        }
    ]


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
    """The attack's claims: the whole key from 10 cipher images in at least 99% of draws, per variant, by
    the book's interval rule: the 95% interval above 0.99 holds, below it fails, and across it the run
    cannot settle it (only 367 draws or more can put it above 0.99, with no failure: 0.025^(1/n) >= 0.99;
    30 without a failure give 0.884)."""
    for variant in ("step 2", "steps 2+3"):
        rr = [r for r in rows if r["cipher"] == variant]
        at10 = next((r for r in rr if r["cipher images"] == 10), None)
        if at10 is None:
            continue
        tag = variant.replace(" ", "").replace("+", "")
        run.value(f"attack_rate_10_{tag}", at10["measured: whole key recovered"], ".2%")
        run.value(f"attack_10_{tag}", f"{at10['successes']} of {at10['draws']}", "s")
        run.value(f"attack_10_low_{tag}", at10["measured: 95% low"], ".3f")
        lo, hi = at10["measured: 95% low"], at10["measured: 95% high"]
        # the book's rule: the interval above the bar holds, below it fails, across it cannot settle it
        needs = None
        if lo < 0.99 <= hi:
            needs = (
                f"more draws: the 95% interval {lo:.3f}-{hi:.3f} contains 0.99 (at least 367 draws, all "
                "successes, are needed to put its lower end above 0.99)"
            )
        run.check(
            f"attack-10-images-{tag}",
            f"The whole key ({variant}) comes back from 10 cipher images in at least 99% of random draws "
            "(decided by the 95% interval)",
            lo >= 0.99,
            measured=f"{at10['successes']}/{at10['draws']} draws (95% interval {lo:.3f}–{hi:.3f})",
            evidence={
                "successes": at10["successes"],
                "draws": at10["draws"],
                "ci95": [lo, hi],
                "bar": 0.99,
                "shown_in": ["attack", "key_recovery"],
            },
            needs=needs,
        )


def paper_scale(n_train: int, network: str, width: int, schedule) -> bool:
    """Whether a run trains the paper's network at the paper's scale (all images, ResNet-18 at width 64, the
    paper's schedule for 300 epochs): only then do level checks compare with the paper's accuracies."""
    return not n_train and network == "resnet18" and width == 64 and schedule.name == "paper" and schedule.epochs >= 300


def row_cache_dir(row_cache: str) -> Path | None:
    """The row cache's directory (relative paths from the project's root), or None for none. It must lie
    inside the project's ``results/`` or runs root."""
    if not row_cache:
        return None
    from ppstudy.project.paths import inside, project_root

    root = project_root()
    p = Path(row_cache) if Path(row_cache).is_absolute() else root / row_cache
    p.mkdir(parents=True, exist_ok=True)
    bases = [root / "results", root / "runs"] + (
        [Path(os.environ["PPSTUDY_RUNS"])] if os.environ.get("PPSTUDY_RUNS") else []
    )
    for base in bases:
        try:
            return inside(p, base, "keep rows in")
        except InputError:
            continue
    raise InputError(f"row_cache {row_cache!r} must lie under the project's results/ or runs directory")


def reused_text(reused: list, row_cache: str) -> str:
    if not row_cache:
        return "this run keeps no rows."
    if not reused:
        return f"every row was trained in this run (kept in `{row_cache}`)."
    return (
        f"{len(reused)} rows ({', '.join(row_name(e) for e in reused)}) were finished by an earlier invocation "
        f"and read from `{row_cache}`."
    )


def scale_text(
    d: dict, epochs: int, width: int, schedule, results: dict | None = None, *, network: str = "resnet18"
) -> str:
    """This run's training scale in words, for the text beside Tables 2 and 3; with ``results``, the training
    time of every row's epochs (the same whether they ran in this process or were resumed from checkpoints)."""
    if network == "fastnet":
        net = "the CPU recipe's network (not the paper's ResNet-18)" + ("" if width == 64 else f" at width {width}")
    else:
        net = "ResNet-18" if width == 64 else f"ResNet-18 at width {width} (the paper's: 64)"
    spent = ""
    if results:
        total = sum(r.get("train_seconds") or 0.0 for r in results.values())
        spent = f"; {len(results)} trainings, {total / 60:,.0f} min of training steps in all (checkpointed per epoch)"
    return (
        f"{len(d['x_train']):,} training and {len(d['x_test']):,} test images, {net}, {epochs} epochs of the "
        f"{ {'paper': 'paper', 'triangle': 'recipe'}.get(schedule.name, 'one-cycle') } schedule (the paper: 50,000 / 10,000 images, "
        f"300 epochs){spent}"
    )


def not_run_text(not_run: list) -> str:
    if not not_run:
        return "Every planned row ran."
    return (
        "Not run within the time budget: "
        + ", ".join(
            f"{CONFIGS[e[0]].label} ({e[1]} augmentation" + (f", seed +{e[2]})" if len(e) > 2 else ")") for e in not_run
        )
        + "."
    )


# ------------------------------------------------------------------------------------------- figures
def fig4_examples(manifest: dict, run_dir: Path):
    """Fig. 4 (and Fig. 1): one image encrypted by every cipher of the chapter."""
    from ppstudy.manifest.store import load_arrays
    from ppstudy.plots import image_grid

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


def curve_points(history: list[dict], key: str) -> tuple[list[int], list[float]]:
    """The epochs of ``history`` where ``key`` (``"train_acc"`` or ``"test_acc"``) was recorded, and its
    values in percent: a profile that scores the test set only after the last epoch has one test point."""
    pts = [(int(e["epoch"]), 100.0 * float(e[key])) for e in history if e.get(key) is not None]
    return [p[0] for p in pts], [p[1] for p in pts]


def fig_training_curves(manifest: dict, run_dir: Path):
    """Training accuracy per epoch (dashed) and test accuracy where it was scored (markers) of every trained
    row, augmentation in the cloud and in the client."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    runs = manifest["values"].get("training_runs", [])
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 4.4), sharey=True, layout="constrained")
    handles = {}
    for ax, placement in zip(axes, ("cloud", "client")):
        for i, name in enumerate(CONFIGS):
            r = next((r for r in runs if r["config"] == name and r["placement"] == placement), None)
            if r is None:
                continue
            ep, tr = curve_points(r["history"], "train_acc")
            ax.plot(ep, tr, ls="--", lw=1.0, color=f"C{i}")
            ep, te = curve_points(r["history"], "test_acc")
            (line,) = ax.plot(ep, te, marker="o", ms=4, color=f"C{i}")
            handles[CONFIGS[name].label] = line
        ax.set_title(f"augmentation in the {placement}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("accuracy (%)")
    handles["training (dashed)"] = Line2D([], [], ls="--", lw=1.0, color="0.4")
    handles["test (markers)"] = Line2D([], [], marker="o", ms=4, color="0.4")
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
