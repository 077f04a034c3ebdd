"""ResNet-18 for 32x32 images and the adaptation networks: shapes, sizes and the 1x1 property."""

from __future__ import annotations

import pytest
import torch
import torchvision

from ppstudy import InputError
from ppstudy.models import AdaptationNetwork, BlockAdaptationNetwork, resnet18_cifar, with_adaptation


def test_resnet18_cifar_is_torchvision_resnet18_with_a_cifar_stem():
    m = resnet18_cifar(10)
    tv = torchvision.models.resnet18(num_classes=10)
    assert isinstance(m, torchvision.models.ResNet)
    assert m.conv1.kernel_size == (3, 3) and m.conv1.stride == (1, 1) and isinstance(m.maxpool, torch.nn.Identity)
    # only the stem differs: 7x7 (64*3*49) -> 3x3 (64*3*9) weights
    n = sum(p.numel() for p in m.parameters())
    assert sum(p.numel() for p in tv.parameters()) - n == 64 * 3 * (49 - 9)
    m.eval()
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert m.layer4[0].conv1.out_channels == 512


def test_narrow_width_and_channels():
    m = resnet18_cifar(8, width=16, in_channels=6).eval()
    assert m(torch.randn(1, 6, 32, 32)).shape == (1, 8)
    assert m.layer4[0].conv1.out_channels == 128
    with pytest.raises(InputError):
        resnet18_cifar(10, width=12)


def test_adaptation_network_is_pixelwise():
    torch.manual_seed(0)
    a = AdaptationNetwork(3, 8, 32, 3).eval()
    convs = [m for m in a.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 32, 3]
    assert all(c.kernel_size == (1, 1) and c.stride == (1, 1) for c in convs)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():  # commutes with shifts and flips (acts on each pixel alone)
        assert torch.allclose(a(x.roll(3, dims=3)), a(x).roll(3, dims=3), atol=1e-6)
        assert torch.allclose(a(x.flip(3)), a(x).flip(3), atol=1e-6)
    m = with_adaptation(a, resnet18_cifar(10, width=8)).eval()
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_block_adaptation_network():
    b = BlockAdaptationNetwork(6, 4, 3).eval()
    assert b(torch.randn(2, 6, 32, 32)).shape == (2, 3, 32, 32)
    conv = b.net[0]
    assert conv.kernel_size == (4, 4) and conv.stride == (4, 4) and conv.out_channels == 96
    with pytest.raises(InputError, match="block"):
        b(torch.randn(1, 6, 30, 30))
    with pytest.raises(InputError):
        AdaptationNetwork(0)
