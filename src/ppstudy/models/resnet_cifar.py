"""ResNet-18 for 32x32 images: torchvision's ``resnet18`` with a 3x3 stride-1 stem and no max-pool.

The ImageNet stem (7x7 stride-2 convolution + max-pool) would shrink a 32x32 CIFAR image to 8x8 before the
first residual stage; the usual CIFAR variant (He et al.'s CIFAR networks; common CIFAR-10 code such as
kuangliu's pytorch-cifar) replaces it with one 3x3 stride-1 convolution. The pixel paper says only
"ResNet-18", not which implementation it used: this choice is ours. ``width`` scales the four stages
(64, 128, 256, 512 at ``width=64``, torchvision's own numbers); a smaller width is only for the smoke
profile and runs through exactly the same torchvision code.
"""

from __future__ import annotations

from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

from ppstudy import InputError


class _CifarResNet(ResNet):
    """torchvision ``ResNet`` whose stage widths are scaled by ``width / 64``."""

    def __init__(self, layers, *, num_classes: int, in_channels: int, width: int):
        self._width = width
        super().__init__(BasicBlock, layers, num_classes=num_classes)
        # 3x3 stride-1 stem, no max-pool
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.maxpool = nn.Identity()
        self.fc = nn.Linear(8 * width * BasicBlock.expansion, num_classes)
        nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        w = getattr(self, "_width", 64)
        if planes == 64:  # first stage: torchvision set inplanes = 64 for its own stem
            self.inplanes = w
        return super()._make_layer(block, planes * w // 64, blocks, stride, dilate)


def resnet18_cifar(num_classes: int = 10, *, in_channels: int = 3, width: int = 64) -> nn.Module:
    """ResNet-18 (BasicBlock, [2, 2, 2, 2]) for 32x32 inputs with ``num_classes`` outputs."""
    if not isinstance(width, int) or width < 1 or width % 8:
        raise InputError(f"width must be a positive multiple of 8, got {width!r}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise InputError(f"num_classes must be a positive integer, got {num_classes!r}")
    return _CifarResNet([2, 2, 2, 2], num_classes=num_classes, in_channels=in_channels, width=width)
