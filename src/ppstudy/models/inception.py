"""Inception-ResNet-v2 (Szegedy et al. 2017) from timm, randomly initialised, for the de-identification chapter.

Ko et al. train timm-style Inception-ResNet-v2 on 224x224 de-identified CIFAR-10 images with RMSprop
(:func:`ppstudy.schedules.rmsprop_ko2020`). The network's stem uses unpadded strided convolutions and needs inputs of at
least 75x75; :func:`inception_resnet_v2` puts a bilinear up-sampling in front when ``min_input`` is set, so
that 32x32 plain images go through the same network. ``arch`` selects another timm model through the same
code path (the smoke profile uses a tiny one, e.g. ``"test_resnet"``). Nothing is downloaded.
"""

from __future__ import annotations

from torch import nn

from ppstudy import InputError


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


def inception_resnet_v2(
    num_classes: int = 10,
    *,
    in_chans: int = 3,
    arch: str = "inception_resnet_v2",
    min_input: int | None = 75,
    drop_rate: float = 0.0,
) -> nn.Module:
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
