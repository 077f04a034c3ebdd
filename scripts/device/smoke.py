"""GPU smoke of a chapter's training path on the staged CIFAR-10 batches (call 1 of the device run).

    python3 scripts/device/smoke.py pixel --json smoke.json              # on the device (CUDA)
    python3 scripts/device/smoke.py pixel --json smoke.json --toy        # here, on CPU, at toy size

pixel: (1) every torch cipher of the chapter equals its numpy cipher, bit for bit, on the device, on the
staged images; (2) one warm-up epoch and one timed epoch of ``ppstudy.train.fit`` with the profile's batch
size and schedule for each kind of model the chapter trains (ResNet-18 alone, with the 1x1 adaptation
network, with Tanaka's block adaptation network), on 50,000 images (the staged 20,000 repeated), with the
step-2 pixel cipher as the transform: seconds per epoch, images/s, evaluation seconds on 10,000 images,
per-row overhead, peak GPU memory; (3) that the first convolution's output is bfloat16 (AMP) and
channels_last during training. deid: the same for the de-identification chapter's classifier at its input
size (a short epoch), and de-identification throughput on the device's cores with the OPE table built once.

The timings feed the last call: it picks the number of epochs that lets every row finish in its budget.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ppdev


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch file as (uint8 N x 32 x 32 x 3, int64 labels): ppstudy's own reader."""
    from ppstudy.data.cifar10 import parse_batch

    return parse_batch(path.read_bytes(), str(path))


def staged_images(data_root: Path, names=("data_batch_1", "data_batch_2")):
    parts = [read_batch(data_root / ppdev.CIFAR_SUBDIR / n) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def repeat_to(x: np.ndarray, y: np.ndarray, n: int):
    idx = np.arange(n) % len(x)
    return x[idx], y[idx]


def profile_params(chapter: str, profile: str, root: Path) -> dict:
    import yaml

    p = root / "book" / "params" / chapter / f"{profile}.yml"
    return yaml.safe_load(p.read_text()) or {}


class LayerProbe:
    """Records dtype and memory format of the first convolution's output while the model trains."""

    def __init__(self, model):
        import torch

        conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
        self.seen: dict = {}
        self.handle = conv.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        import torch

        if module.training and not self.seen:
            self.seen = {
                "dtype": str(output.dtype).replace("torch.", ""),
                "channels_last": bool(output.is_contiguous(memory_format=torch.channels_last)),
            }

    def close(self):
        self.handle.remove()


def timed_fit(model, x, y, xte, yte, *, schedule, transform, augment, device) -> dict:
    """Two epochs of ``train.fit``: the second one's seconds and images/s, the first one's extra seconds
    (cuDNN autotuning, allocator warm-up), one evaluation's seconds, peak GPU memory."""
    import torch

    from ppstudy import train

    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    probe = LayerProbe(model)
    t0 = time.perf_counter()
    res = train.fit(
        model, (x, y), schedule=schedule, transform=transform, augment=augment, device=device, progress=False
    )
    fit_s = time.perf_counter() - t0
    probe.close()
    h = res.history
    t1 = time.perf_counter()
    acc = train.evaluate(res.model, xte, yte, transform=transform, device=device, normalization=res.normalization)
    if cuda:
        torch.cuda.synchronize()
    eval_s = time.perf_counter() - t1
    out = {
        "s_epoch": h[-1]["seconds"],
        "images_per_s": h[-1]["images_per_s"],
        "first_epoch_extra_s": max(0.0, h[0]["seconds"] - h[-1]["seconds"]),
        "overhead_s": max(0.0, fit_s - sum(e["seconds"] for e in h)),
        "eval_s": eval_s,
        "eval_images": int(len(xte)),
        "train_images": int(len(x)),
        "batch_size": schedule.batch_size,
        "first_conv_output": probe.seen,
        "smoke_test_acc": acc,
    }
    if cuda:
        out["peak_gpu_mem_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


# ------------------------------------------------------------------------------------------ pixel
def smoke_pixel(a, root: Path, data_root: Path) -> dict:
    import torch

    from ppstudy import train
    from ppstudy.studies import pixel as study

    dev = "cuda" if torch.cuda.is_available() and not a.cpu else "cpu"
    prm = profile_params("pixel", a.profile, root)
    x, y = staged_images(data_root)
    n_check = min(len(x), a.check_images)
    keys = study.make_keys(x.shape[1:], seed=int(prm.get("key_seed", 2019)))
    ciphers = {}
    for c in ("pixel2", "pixel23", "tanaka", "etc", "chaotic"):
        ref = study.encrypt_numpy(c, x[:n_check], keys)
        t = study.torch_transform(c, keys, dev)
        xt = torch.from_numpy(np.ascontiguousarray(x[:n_check].transpose(0, 3, 1, 2))).to(dev)
        got = t(xt).permute(0, 2, 3, 1).cpu().numpy()
        ciphers[c] = {
            "equal": bool(got.shape == ref.shape and np.array_equal(got, ref)),
            "images": n_check,
            "shape": list(got.shape[1:]),
        }
        print(
            f"  torch cipher {c:>8} on {dev}: {'equal' if ciphers[c]['equal'] else 'DIFFERENT'} "
            f"to numpy on {n_check} images",
            flush=True,
        )

    width = a.width or int(prm.get("width", 64))
    batch = a.batch or int(prm.get("batch_size", 512))
    xtr, ytr = repeat_to(x, y, a.train_images)
    xte, yte = repeat_to(x[::-1], y[::-1], a.eval_images)
    sched = study.make_schedule(str(prm.get("schedule", "fast")), 2, batch, float(prm.get("lr", 0.4)))
    kinds = {"plain": "step2", "pixel_adaptation": "step2_adapt", "block_adaptation": "tanaka"}
    configs = {}
    for kind, row in kinds.items():
        cfg = study.CONFIGS[row]
        model = study.make_model(cfg, 10, width, 0)
        r = timed_fit(
            model,
            xtr,
            ytr,
            xte,
            yte,
            schedule=sched,
            transform=study.torch_transform(cfg.cipher, keys, dev),
            augment=train.Augment(pad=4, flip=True),
            device=dev,
        )
        r["row"] = row
        r["s_epoch_50k"] = r["s_epoch"] * 50000 / len(xtr)
        r["eval_s_10k"] = r["eval_s"] * 10000 / len(xte)
        configs[kind] = r
        print(
            f"  {kind:>16} ({row}): {r['s_epoch']:.2f} s/epoch on {len(xtr)} images at batch {batch} "
            f"({r['images_per_s']:.0f} images/s), eval {r['eval_s']:.2f} s, first conv output "
            f"{r['first_conv_output']}"
            + (f", peak {r['peak_gpu_mem_gib']:.1f} GiB" if "peak_gpu_mem_gib" in r else ""),
            flush=True,
        )
        del model
    return {
        "chapter": "pixel",
        "profile": a.profile,
        "device": dev,
        "width": width,
        "batch_size": batch,
        "ciphers": ciphers,
        "configs": configs,
    }


# ------------------------------------------------------------------------------------------ deid
def smoke_deid(a, root: Path, data_root: Path) -> dict:
    """Call 1: the classifier at its input size on the GPU. The de-identification throughput is
    :func:`smoke_deidentify` (call 2, once every deid wheel is on the machine)."""
    import torch

    from ppstudy import schedules, train
    from ppstudy.studies import deid as study

    dev = "cuda" if torch.cuda.is_available() and not a.cpu else "cpu"
    prm = profile_params("deid", a.profile, root)
    x, y = staged_images(data_root)
    size = a.size or int(prm.get("out_size_train", 224))
    batch = a.batch or int(prm.get("batch_size", 256))
    arch = a.arch or str(prm.get("arch", "inception_resnet_v2"))
    n = a.train_images or 24 * batch  # a short epoch: 24 batches (the first epoch warms up)
    a.eval_images = a.eval_images or min(10000, 8 * batch)
    xr, yr = repeat_to(x, y, n)
    xs = torch.from_numpy(np.ascontiguousarray(xr.transpose(0, 3, 1, 2)))
    xs = torch.nn.functional.interpolate(xs.float(), size=(size, size), mode="bilinear", align_corners=False)
    xs = xs.round().clamp(0, 255).to(torch.uint8)
    ys = torch.from_numpy(yr)
    xte, yte = xs[: a.eval_images], ys[: a.eval_images]
    model = study.classifier(arch, 10)
    sched = schedules.one_cycle(2, batch_size=batch)
    r = timed_fit(
        model,
        xs,
        ys,
        xte,
        yte,
        schedule=sched,
        transform=None,
        augment=train.Augment(pad=max(1, size // 8), flip=True),
        device=dev,
    )
    r["s_epoch_50k"] = r["s_epoch"] * 50000 / n
    r["eval_s_10k"] = r["eval_s"] * 10000 / len(xte)
    print(
        f"  {arch} at {size}x{size}, batch {batch}: {r['images_per_s']:.0f} images/s -> "
        f"{r['s_epoch_50k']:.1f} s per 50,000-image epoch; first conv output {r['first_conv_output']}"
        + (f", peak {r['peak_gpu_mem_gib']:.1f} GiB" if "peak_gpu_mem_gib" in r else ""),
        flush=True,
    )
    del model
    return {
        "chapter": "deid",
        "profile": a.profile,
        "device": dev,
        "arch": arch,
        "size": size,
        "batch_size": batch,
        "configs": {"classifier": r},
    }


def smoke_deidentify(a, root: Path, data_root: Path) -> dict:
    """De-identification throughput with the chapter's default settings on the machine's cores, the OPE
    table built (or read from the data cache) once first."""
    import os

    from ppstudy.ciphers import deid, ope

    prm = profile_params("deid", a.profile, root)
    x, _ = staged_images(data_root, names=("data_batch_1",))
    size = a.size or int(prm.get("out_size_train", 224))
    workers = a.workers or min(int(prm.get("workers", 16)), os.cpu_count() or 1)
    key = ope.paper_key()
    t0 = time.perf_counter()
    ope.table(key)
    t_table = time.perf_counter() - t0
    settings = deid.Settings(size=int(prm.get("size_train", 50)), out_size=size)
    m = min(len(x), a.deid_images)
    t0 = time.perf_counter()
    out = deid.deidentify(x[:m], key, settings, workers=workers)
    dt = time.perf_counter() - t0
    print(
        f"  de-identification {settings.size} -> {settings.out_size}: {m / dt:.0f} images/s on {workers} "
        f"workers ({m} images; OPE table {t_table:.1f} s)",
        flush=True,
    )
    return {
        "chapter": "deid",
        "part": "deidentify",
        "profile": a.profile,
        "deid": {
            "images": m,
            "seconds": dt,
            "images_per_s": m / dt,
            "workers": workers,
            "ope_table_s": t_table,
            "settings": repr(settings),
            "out_shape": list(out.shape[1:]),
        },
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="GPU smoke of a chapter's training path")
    ap.add_argument("chapter", choices=("pixel", "deid"))
    ap.add_argument(
        "--part",
        choices=("gpu", "deidentify"),
        default="gpu",
        help="deid: the classifier on the GPU (call 1) or the de-identification throughput (call 2)",
    )
    ap.add_argument("--json", required=True, help="where to write the figures")
    ap.add_argument("--profile", default=None, help="parameter profile (default: paper-fast / paper-gpu)")
    ap.add_argument("--toy", action="store_true", help="CPU, tiny model and data")
    ap.add_argument("--cpu", action="store_true", help="stay on the CPU even if CUDA is there")
    ap.add_argument("--width", type=int, default=0)
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--arch", default="")
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--train-images", type=int, default=0)
    ap.add_argument("--eval-images", type=int, default=0)
    ap.add_argument("--check-images", type=int, default=4096)
    ap.add_argument("--deid-images", type=int, default=1600)
    a = ap.parse_args(argv)
    import os

    root = Path.cwd()
    data_root = Path(os.environ.get("PPSTUDY_DATA", ""))
    if not (data_root / ppdev.CIFAR_SUBDIR / "data_batch_1").is_file():
        raise SystemExit(f"smoke: no staged data_batch_1 under {data_root / ppdev.CIFAR_SUBDIR} (PPSTUDY_DATA)")
    a.profile = a.profile or {"pixel": "paper-fast", "deid": "paper-gpu"}[a.chapter]
    if a.toy:
        a.cpu = True
        a.width, a.batch = a.width or 8, a.batch or 16
        a.arch, a.size, a.workers = a.arch or "test_resnet", a.size or 48, a.workers or 1
        a.train_images, a.eval_images = a.train_images or 64, a.eval_images or 32
        a.check_images, a.deid_images = min(a.check_images, 64), min(a.deid_images, 4)
    elif a.chapter == "pixel":
        a.train_images, a.eval_images = a.train_images or 50000, a.eval_images or 10000
    t0 = time.perf_counter()
    if a.chapter == "pixel":
        res = smoke_pixel(a, root, data_root)
    elif a.part == "deidentify":
        res = smoke_deidentify(a, root, data_root)
    else:
        res = smoke_deid(a, root, data_root)
    res["seconds"] = time.perf_counter() - t0
    try:
        import torch

        res["torch"] = torch.__version__
        if torch.cuda.is_available():
            res["gpu"] = torch.cuda.get_device_name(0)
            res["cudnn"] = torch.backends.cudnn.version()
    except ImportError:  # pragma: no cover
        pass
    bad = [c for c, r in res.get("ciphers", {}).items() if not r["equal"]]
    off = [
        k
        for k, r in res.get("configs", {}).items()
        if res.get("device") == "cuda" and r["first_conv_output"] != {"dtype": "bfloat16", "channels_last": True}
    ]
    res["amp_channels_last_ok"] = not off if res.get("device") == "cuda" else None
    ppdev.write_json(Path(a.json), res)
    if off:  # slower, not wrong: the run goes on, and the figures say so
        print(
            f"smoke: WARNING: first convolution not bfloat16 + channels_last during training in {off}", file=sys.stderr
        )
    if bad:  # wrong ciphers would make every encrypted row wrong: stop here
        print(f"smoke: FAILED: torch ciphers differing from the numpy ones on {res['device']}: {bad}", file=sys.stderr)
        return 1
    print(f"smoke: passed in {res['seconds']:.1f} s ({res.get('device', 'cpu')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
