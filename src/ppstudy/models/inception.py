"""Inception-ResNet-v2 (Szegedy et al. 2017) from timm, randomly initialised, for the de-identification chapter.

Ko et al. train timm-style Inception-ResNet-v2 on 224x224 de-identified CIFAR-10 images with RMSprop
(:func:`rmsprop_schedule`). The network's stem uses unpadded strided convolutions and needs inputs of at
least 75x75; :func:`inception_resnet_v2` puts a bilinear up-sampling in front when ``min_input`` is set, so
that 32x32 plain images go through the same network. ``arch`` selects another timm model through the same
code path (the smoke profile uses a tiny one, e.g. ``"test_resnet"``). Nothing is downloaded.
"""

from __future__ import annotations

import torch
from torch import nn

from ppstudy import InputError

#: the paper's RMSprop schedule: lr 1e-3, then 5e-4, 3e-4 and 1e-4 from epochs 100, 125 and 200 of 250
#: (read as milestones inside 250 epochs), weight decay 1e-6, batch size 64
PAPER_EPOCHS = 250
PAPER_MILESTONES = (100, 125, 200)
PAPER_LRS = (1e-3, 5e-4, 3e-4, 1e-4)


class _Upsample(nn.Module):
    def __init__(self, size: int):
        super().__init__()
        self.size = int(size)

    def forward(self, x):
        if min(x.shape[-2:]) >= self.size:
            return x
        return nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)

    def extra_repr(self) -> str:
        return f"min_size={self.size}"


def inception_resnet_v2(num_classes: int = 10, *, in_chans: int = 3, arch: str = "inception_resnet_v2",
                        min_input: int | None = 75, drop_rate: float = 0.0) -> nn.Module:
    """timm ``arch`` (default Inception-ResNet-v2), random init, ``num_classes`` outputs.

    Inputs smaller than ``min_input`` pixels are up-sampled bilinearly to ``min_input`` first (``None``:
    no up-sampling layer).
    """
    import timm

    if not isinstance(num_classes, int) or num_classes < 2:
        raise InputError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    if arch not in timm.list_models(arch):
        raise InputError(f"unknown timm architecture {arch!r}")
    net = timm.create_model(arch, pretrained=False, num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate)
    if min_input is None:
        return net
    return nn.Sequential(_Upsample(min_input), net)


def rmsprop_schedule(epochs: int = PAPER_EPOCHS, *, batch_size: int = 64, weight_decay: float = 1e-6,
                     lrs=PAPER_LRS, milestones=PAPER_MILESTONES):
    """The paper's RMSprop recipe as a :class:`ppstudy.train.Schedule`; milestones scale with ``epochs``
    (100/125/200 of 250)."""
    from ppstudy.train import Schedule

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise InputError(f"epochs must be a positive integer, got {epochs!r}")
    if len(lrs) != len(milestones) + 1:
        raise InputError("rmsprop_schedule: need one more learning rate than milestones")
    ms = [max(1, round(m * epochs / PAPER_EPOCHS)) for m in milestones]
    base = float(lrs[0])

    def factor(e: int) -> float:
        k = sum(e >= m for m in ms)
        return float(lrs[k]) / base

    def make(model, steps_per_epoch):
        # Keras' RMSprop defaults (rho 0.9, eps 1e-7), as in Keras CIFAR-10 examples the paper follows
        opt = torch.optim.RMSprop(model.parameters(), lr=base, alpha=0.9, eps=1e-7, weight_decay=weight_decay)
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)

    return Schedule(epochs, batch_size, make, "epoch", 0.0, "rmsprop-ko2020",
                    dict(optimizer="RMSprop", lrs=list(lrs), milestones=ms, weight_decay=weight_decay,
                         batch_size=batch_size, epochs=epochs))
