"""A small fast CIFAR network for the CPU recipe: a whitening first layer and three conv groups.

The shape follows the published fast CIFAR-10 recipes (hlb-cifar10, Keller Jordan's airbench: about 94%
test accuracy in 10 epochs); the implementation is this project's own. Facts taken from them:

* a first 2x2 convolution (no padding) whose filters whiten the 2x2 patches of the training inputs: the
  eigenvectors of the patches' covariance divided by the square root of their eigenvalues, each filter
  also negated (``2 * C * 4`` output channels for ``C`` input channels), frozen; only its bias learns;
* three groups ``conv 3x3 -> max-pool 2 -> BN -> GELU -> conv 3x3 -> BN -> GELU`` of widths
  64 / 256 / 256, batch-norm with a fixed scale of 1 (its bias learns) and a fast running average,
  convolutions initialised so that their first input channels pass through (identity, "dirac");
* a 3x3 max-pool over the last 3x3 map, a linear layer without bias, its output scaled by 1/9.

Whitening needs the training inputs: :meth:`FastNet.data_init` computes it from a sample of the network's
inputs (normalised, after any cipher), and :func:`ppstudy.train.fit` calls it before training. The same
code serves any channel count (a cipher that changes the channel count, an adaptation network in front).
"""

from __future__ import annotations

import torch
from torch import nn

from ppstudy import InputError


class _BatchNorm(nn.BatchNorm2d):
    """Batch-norm with the scale fixed at 1 (not trained) and a learned bias."""

    def __init__(self, channels: int, *, momentum: float):
        super().__init__(channels, eps=1e-12, momentum=momentum)
        self.weight.requires_grad_(False)


def _dirac_conv(cin: int, cout: int) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
    with torch.no_grad():
        k = min(cin, cout)
        nn.init.dirac_(conv.weight[:k])  # the first min(cin, cout) filters pass their channel through
    return conv


class _ConvGroup(nn.Module):
    def __init__(self, cin: int, cout: int, *, momentum: float):
        super().__init__()
        self.conv1 = _dirac_conv(cin, cout)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = _BatchNorm(cout, momentum=momentum)
        self.conv2 = _dirac_conv(cout, cout)
        self.norm2 = _BatchNorm(cout, momentum=momentum)
        self.act = nn.GELU()

    def forward(self, x):
        x = self.act(self.norm1(self.pool(self.conv1(x))))
        return self.act(self.norm2(self.conv2(x)))


class FastNet(nn.Module):
    """Whitening 2x2 conv, three :class:`_ConvGroup`, max-pool, linear; see the module docstring."""

    def __init__(self, num_classes: int = 10, *, in_channels: int = 3, widths=(64, 256, 256), bn_momentum=0.1):
        super().__init__()
        if not isinstance(in_channels, int) or isinstance(in_channels, bool) or in_channels < 1:
            raise InputError(f"in_channels must be a positive integer, got {in_channels!r}")
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise InputError(f"num_classes must be a positive integer, got {num_classes!r}")
        widths = tuple(widths)
        if len(widths) != 3 or not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths):
            raise InputError(f"widths must be three positive integers, got {widths!r}")
        self.in_channels = in_channels
        white = 2 * in_channels * 4
        self.whiten = nn.Conv2d(in_channels, white, 2, padding=0, bias=True)
        self.whiten.weight.requires_grad_(False)
        with torch.no_grad():
            assert self.whiten.bias is not None
            self.whiten.bias.zero_()
        self.act = nn.GELU()
        self.groups = nn.Sequential(
            _ConvGroup(white, widths[0], momentum=bn_momentum),
            _ConvGroup(widths[0], widths[1], momentum=bn_momentum),
            _ConvGroup(widths[1], widths[2], momentum=bn_momentum),
        )
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.head = nn.Linear(widths[2], num_classes, bias=False)
        self.scale = 1.0 / 9.0
        self.register_buffer("whitened", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def data_init(self, x: torch.Tensor, *, eps: float = 5e-4) -> None:
        """Set the whitening filters from float inputs ``x`` (N, C, H, W), as the network will see them."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise InputError(f"data_init: expected (N, {self.in_channels}, H, W) inputs, got {tuple(x.shape)}")
        c = self.in_channels
        patches = x.double().unfold(2, 2, 1).unfold(3, 2, 1)  # N, C, H-1, W-1, 2, 2
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * 4)
        patches = patches - patches.mean(0, keepdim=True)
        cov = patches.T @ patches / max(1, patches.shape[0] - 1)
        vals, vecs = torch.linalg.eigh(cov)  # ascending; eigenvectors in the columns
        vals, vecs = vals.flip(0), vecs.flip(1)
        filt = (vecs.T / torch.sqrt(vals.clamp_min(0) + eps)[:, None]).reshape(c * 4, c, 2, 2)
        self.whiten.weight.copy_(torch.cat((filt, -filt)).to(self.whiten.weight.dtype))
        self.whitened.fill_(True)  # type: ignore[operator]

    def forward(self, x):
        x = self.act(self.whiten(x))
        x = self.groups(x)
        x = self.pool(x).flatten(1)
        return self.head(x) * self.scale


def fastnet_cifar(num_classes: int = 10, *, in_channels: int = 3, widths=(64, 256, 256)) -> FastNet:
    """The CPU recipe's network (about 1.97 M parameters at the default widths) for 32x32 inputs."""
    return FastNet(num_classes, in_channels=in_channels, widths=widths)
