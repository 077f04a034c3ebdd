"""Training throughput of ResNet-18 on 32x32 images: raw steps in four precisions/layouts, and the book's
loop (``ppstudy.train.fit`` with the pixel cipher on the device, augmentation and one-cycle schedule).
Prints images/s and seconds per 50,000-image epoch; figures only, no assertion.

    python benchmarks/bench_train.py                                  # CUDA if there, else CPU (short)
    python benchmarks/bench_train.py --device cpu --steps 3 --batch 128 --width 64 16
    python benchmarks/bench_train.py --compile --json bench.json      # + torch.compile, figures to a file

Variants (each: ``--warmup`` untimed steps, then ``--steps`` timed steps; CUDA timed with events, on
device-resident random inputs and labels, a fresh batch each step):

* ``fp32``: float32, NCHW;  ``bf16``: bfloat16 autocast, NCHW;  ``bf16+cl``: autocast + channels_last
  (what ``train.fit`` does on a GPU);  ``bf16+cl+compile``: the same through ``torch.compile`` (opt-in).
* ``fit``: ``train.fit`` end to end for two epochs of ``steps`` batches (uint8 data on the device, pixel
  cipher, shift + flip, normalisation, SGD one-cycle, per-epoch bookkeeping); the second epoch is timed.
  Its gap to ``bf16+cl`` is the cost of the loop around the network. ``fit`` runs first, with cuDNN's
  autotuner off as in the chapters; the raw variants and ``fit+cudnn.benchmark`` run with it on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _sync(dev):
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize()


def raw_steps(
    width: int, batch: int, steps: int, warmup: int, dev, *, amp: bool, channels_last: bool, compile_model: bool
) -> float:
    """Images/s of forward + backward + SGD step of ResNet-18 (width ``width``) on random inputs."""
    import torch

    from ppstudy.models import resnet18_cifar

    torch.manual_seed(0)
    model = resnet18_cifar(10, width=width).to(dev)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    lossf = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    fwd = torch.compile(model) if compile_model else model
    xs = torch.randn(4, batch, 3, 32, 32, device=dev).contiguous(memory_format=fmt)
    ys = torch.randint(0, 10, (4, batch), device=dev)
    use_amp = amp and dev.type == "cuda"

    def step(i):
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
            out = fwd(xs[i % 4])
            loss = lossf(out.float(), ys[i % 4])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for i in range(warmup):
        step(i)
    _sync(dev)
    if dev.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for i in range(steps):
            step(i)
        end.record()
        torch.cuda.synchronize()
        seconds = start.elapsed_time(end) / 1e3
    else:
        t0 = time.perf_counter()
        for i in range(steps):
            step(i)
        seconds = time.perf_counter() - t0
    return batch * steps / seconds


def fit_loop(width: int, batch: int, steps: int, dev) -> float:
    """Images/s of ``train.fit`` (second of two epochs of ``steps`` batches) with the pixel cipher."""
    import numpy as np
    import torch

    from ppstudy import schedules, train
    from ppstudy.ciphers import pixel
    from ppstudy.models import resnet18_cifar

    n = batch * steps
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, n)
    key = pixel.keygen((32, 32, 3), seed=0)
    torch.manual_seed(0)
    res = train.fit(
        resnet18_cifar(10, width=width),
        (x, y),
        schedule=schedules.one_cycle(2, batch_size=batch),
        transform=key.torch_transform(dev),
        device=dev,
        progress=False,
    )
    return res.history[-1]["images_per_s"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=None, help="timed steps per variant (default: 40 on CUDA, 3 on CPU)")
    ap.add_argument(
        "--warmup", type=int, default=None, help="untimed steps per variant (default: 10 on CUDA, 1 on CPU)"
    )
    ap.add_argument("--batch", type=int, default=None, help="batch size (default: 512 on CUDA, 128 on CPU)")
    ap.add_argument("--width", type=int, nargs="*", default=[64])
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    ap.add_argument("--compile", action="store_true", help="also time the network through torch.compile")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    a = ap.parse_args(argv)
    import torch

    dev = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = dev.type == "cuda"
    a.steps = a.steps if a.steps is not None else (40 if cuda else 3)
    a.warmup = a.warmup if a.warmup is not None else (10 if cuda else 1)
    a.batch = a.batch if a.batch is not None else (512 if cuda else 128)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"device {dev} ({name}), torch {torch.__version__}, batch {a.batch}, {a.steps} timed steps "
        f"after {a.warmup} warm-up steps"
    )
    variants = [("fp32", False, False, False), ("bf16", True, False, False), ("bf16+cl", True, True, False)]
    if a.compile:
        variants.append(("bf16+cl+compile", True, True, True))
    rows = []
    for width in a.width:
        # the book's loop as the chapters run it (cudnn.benchmark off, PyTorch's default) ...
        torch.backends.cudnn.benchmark = False
        t0 = time.perf_counter()
        ips = fit_loop(width, a.batch, max(4, a.steps), dev)
        rows.append(
            {
                "width": width,
                "variant": "fit",
                "images_per_s": ips,
                "s_per_epoch_50k": 50000 / ips,
                "wall_s": time.perf_counter() - t0,
            }
        )
        # ... then everything with cuDNN's autotuner on (fixed shapes: it picks the fastest kernels)
        torch.backends.cudnn.benchmark = True
        for label, amp, cl, comp in variants:
            if dev.type != "cuda" and amp:
                continue  # bfloat16 autocast is switched on only on CUDA in the book's loop
            t0 = time.perf_counter()
            ips = raw_steps(width, a.batch, a.steps, a.warmup, dev, amp=amp, channels_last=cl, compile_model=comp)
            rows.append(
                {
                    "width": width,
                    "variant": label,
                    "images_per_s": ips,
                    "s_per_epoch_50k": 50000 / ips,
                    "wall_s": time.perf_counter() - t0,
                }
            )
        if not cuda:
            continue
        t0 = time.perf_counter()
        ips = fit_loop(width, a.batch, max(4, a.steps), dev)
        rows.append(
            {
                "width": width,
                "variant": "fit+cudnn.benchmark",
                "images_per_s": ips,
                "s_per_epoch_50k": 50000 / ips,
                "wall_s": time.perf_counter() - t0,
            }
        )
    for r in rows:
        print(
            f"ResNet-18 width {r['width']:>2} {r['variant']:>16}: {r['images_per_s']:9.0f} images/s  "
            f"{r['s_per_epoch_50k']:7.2f} s per 50,000-image epoch"
        )
    if a.json:
        info = {
            "device": str(dev),
            "name": name,
            "torch": torch.__version__,
            "batch": a.batch,
            "steps": a.steps,
            "warmup": a.warmup,
            "rows": rows,
        }
        Path(a.json).write_text(json.dumps(info, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
