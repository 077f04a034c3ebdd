"""The CPU training recipe on plain CIFAR-10: accuracy, wall time, images/s, precision, CPU model.

The recipe: ``ppstudy.models.fastnet_cifar`` (a whitening 2x2 layer, three conv groups of 64/256/256
channels), ``ppstudy.schedules.triangle_sgd`` (Nesterov SGD, linear warm-up and decay, label smoothing
0.2, batch 1000), flip (alternating) + 2-pixel translate with reflected borders, test-time flip and
translate, through ``ppstudy.train.fit`` on all 50,000 training images, scored on the 10,000 test images.
Figures only, no assertion.

    python benchmarks/bench_recipe.py                          # full data, 10 epochs, precision auto
    python benchmarks/bench_recipe.py --throughput 20          # only images/s of 20 training steps
                                                               # (bf16 where native, or --precision bf16)
    python benchmarks/bench_recipe.py --seeds 0 1 2 --json recipe.json
    python benchmarks/bench_recipe.py --precision fp32 --epochs 3   # bf16 against float32

The data come from the data cache (``$PPSTUDY_DATA`` or ``~/.cache/ppstudy``), as for the chapters. Run it
on an otherwise idle machine: with another job on the two cores every figure falls to a third.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def recipe(epochs: int, *, seed: int, precision: str, channels_last: bool | None, tta: str | None):
    from ppstudy import schedules, train
    from ppstudy.models import fastnet_cifar

    return dict(
        model=fastnet_cifar(),
        schedule=schedules.triangle_sgd(epochs),
        augment=train.Augment(pad=2, flip=True, padding_mode="reflect", alternate_flip=True),
        seed=seed,
        precision=precision,
        channels_last=channels_last,
        tta=tta,
    )


def throughput(x, y, steps: int, *, precision: str, channels_last: bool | None) -> dict:
    """Images/s of ``steps`` training steps of the recipe (after 2 untimed steps)."""
    from ppstudy import train

    kw = recipe(1, seed=0, precision=precision, channels_last=channels_last, tta=None)
    bs = kw["schedule"].batch_size
    n = (steps + 2) * bs
    train.fit(kw.pop("model"), (x[:n], y[:n]), schedule=kw.pop("schedule"), max_steps_per_epoch=2, progress=False, **kw)
    kw = recipe(1, seed=0, precision=precision, channels_last=channels_last, tta=None)
    res = train.fit(
        kw.pop("model"),
        (x[:n], y[:n]),
        schedule=kw.pop("schedule"),
        max_steps_per_epoch=steps,
        progress=False,
        **kw,
    )
    return {"images_per_s": res.images_per_s, "precision": res.precision, "steps": steps, "batch": bs}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto")
    ap.add_argument("--channels-last", choices=["auto", "yes", "no"], default="auto")
    ap.add_argument("--tta", choices=["none", "flip", "flip-translate"], default="flip-translate")
    ap.add_argument("--throughput", type=int, default=0, help="only time this many steps of every variant")
    ap.add_argument("--n-train", type=int, default=0, help="a subset of the training images (0: all 50,000)")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    args = ap.parse_args(argv)

    import torch

    from ppstudy import train
    from ppstudy.data import cifar10

    cl = {"auto": None, "yes": True, "no": False}[args.channels_last]
    tta = None if args.tta == "none" else args.tta
    head = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "cpu_native_bf16": train.cpu_bf16_capable(),
        "load_1min": os.getloadavg()[0],
    }
    print(json.dumps(head))
    xtr, ytr, xte, yte, _ = cifar10.load_train_test(args.n_train or None, None)
    out: dict = {"machine": head, "runs": []}
    if args.throughput:
        variants = [("fp32", False), ("fp32", True)]
        if head["cpu_native_bf16"] or head["cuda"] or args.precision == "bf16":  # emulated bf16 only if asked
            variants += [("bf16", False), ("bf16", True)]
        for prec, chl in variants:
            r = throughput(xtr, ytr, args.throughput, precision=prec, channels_last=chl)
            r.update(channels_last=chl, epoch_s=50000 / r["images_per_s"])
            print(
                f"{prec:5s} channels_last={chl!s:5s}: {r['images_per_s']:7.1f} img/s, "
                f"{r['epoch_s']:6.1f} s per 50,000-image epoch"
            )
            out["runs"].append(r)
    else:
        for seed in args.seeds:
            kw = recipe(args.epochs, seed=seed, precision=args.precision, channels_last=cl, tta=tta)
            t0 = time.perf_counter()
            res = train.fit(
                kw.pop("model"), (xtr, ytr), (xte, yte), schedule=kw.pop("schedule"), test_every=args.epochs, **kw
            )
            wall = time.perf_counter() - t0
            no_tta = train.evaluate(
                res.model, xte, yte, normalization=res.normalization, precision=res.precision, channels_last=cl
            )
            r = {
                "seed": seed,
                "epochs": args.epochs,
                "test_acc": res.test_acc,
                "test_acc_no_tta": no_tta,
                "tta": tta,
                "wall_s": wall,
                "train_s": res.train_seconds,
                "images_per_s": res.images_per_s,
                "precision": res.precision,
                "channels_last": cl,
                "n_train": len(xtr),
                "n_test": len(xte),
                "per_epoch": [
                    {k: h.get(k) for k in ("epoch", "test_acc", "seconds", "images_per_s")} for h in res.history
                ],
            }
            print(
                f"seed {seed}: test accuracy {res.test_acc:.4f} (without TTA {no_tta:.4f}) after {args.epochs} "
                f"epochs on {len(xtr):,} images; wall {wall / 60:.1f} min, training {res.train_seconds / 60:.1f} min, "
                f"{res.images_per_s:.0f} img/s, {res.precision}"
            )
            out["runs"].append(r)
        accs = [r["test_acc"] for r in out["runs"]]
        if len(accs) > 1:
            import statistics

            print(
                f"over {len(accs)} seeds: mean {statistics.mean(accs):.4f}, sd {statistics.stdev(accs):.4f}, "
                f"range {min(accs):.4f}-{max(accs):.4f}"
            )
    out["machine"]["load_1min_end"] = os.getloadavg()[0]
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
