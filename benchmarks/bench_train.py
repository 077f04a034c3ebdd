"""Training throughput (images/s) of ppstudy.train.fit for ResNet-18 (+ the 1x1 adaptation network) at
batch 128 on 32x32 images encrypted on the device by the pixel cipher, for a few steps. CPU here; the
same script runs on a GPU (AMP + channels_last switch on automatically). Prints figures only.

    .venv/bin/python benchmarks/bench_train.py [--steps 3] [--width 64] [--device cpu]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--width", type=int, nargs="*", default=[64, 16])
    ap.add_argument("--device", default=None)
    a = ap.parse_args()
    from ppstudy import train
    from ppstudy.ciphers import pixel
    from ppstudy.models import AdaptationNetwork, resnet18_cifar, with_adaptation

    n = a.batch * (a.steps + 1)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, n)
    key = pixel.keygen((32, 32, 3), seed=0)
    dev = train._device(a.device)
    print(f"device {dev}, torch threads {torch.get_num_threads()}, batch {a.batch}, steps {a.steps} "
          f"(first step included; epoch 1 of 2 discarded as warm-up)")
    for width in a.width:
        for adapt in (False, True):
            torch.manual_seed(0)
            net = resnet18_cifar(10, width=width)
            model = with_adaptation(AdaptationNetwork(), net) if adapt else net
            res = train.fit(model, (x, y), schedule=train.paper_schedule(2, batch_size=a.batch),
                            transform=pixel.torch_transform(key, dev), device=dev, progress=False,
                            max_steps_per_epoch=a.steps)
            ips = res.history[-1]["images_per_s"]
            print(f"ResNet-18 width {width:>2}{' + adaptation' if adapt else '             '}: "
                  f"{ips:8.1f} training images/s")


if __name__ == "__main__":
    main()
