"""Adaptation networks placed in front of a classifier to absorb a perceptual encryption.

* :class:`AdaptationNetwork` — Sirichotedumrong et al. (ICIP 2019), Fig. 5: 1x1 convolutions (kernel and
  stride (1, 1)) with ``M1 = 8`` and ``M2 = 32`` feature maps. The paper's figure is not in the text we
  have; our reading (documented in the chapter): ``C1^{M1} -> BN -> ReLU -> C2^{M2} -> BN -> ReLU ->
  C3^{3}``, a last 1x1 layer back to 3 maps so that the output feeds any 3-channel DNN. Being 1x1 it acts
  on each pixel alone, so it commutes with shifts and flips: the reason the paper gives for its
  robustness to augmentation done after encryption.
* :class:`BlockAdaptationNetwork` — Tanaka (ICCE-TW 2018): a block-wise layer (a convolution whose kernel
  and stride equal the 4x4 encryption block, i.e. one fully connected map per block over the 6 x 16 = 96
  encrypted values), a second block-local 1x1 layer, then sub-pixel rearrangement (``PixelShuffle``) back
  to a 3-channel image of the original size. Augmentation after encryption shifts the block grid, so
  the kernel straddles two encrypted blocks: the paper's explanation of Tanaka's loss in Table 3.
"""

from __future__ import annotations

from torch import nn

from ppstudy import InputError


class AdaptationNetwork(nn.Module):
    """Pixel-wise (1x1 convolution) adaptation network, ``in_channels -> M1 -> M2 -> out_channels``."""

    def __init__(self, in_channels: int = 3, m1: int = 8, m2: int = 32, out_channels: int = 3):
        super().__init__()
        for name, v in (("in_channels", in_channels), ("m1", m1), ("m2", m2), ("out_channels", out_channels)):
            if not isinstance(v, int) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}")
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, m1, 1, bias=False),
            nn.BatchNorm2d(m1),
            nn.ReLU(inplace=True),
            nn.Conv2d(m1, m2, 1, bias=False),
            nn.BatchNorm2d(m2),
            nn.ReLU(inplace=True),
            nn.Conv2d(m2, out_channels, 1),
        )

    def forward(self, x):
        return self.net(x)


class BlockAdaptationNetwork(nn.Module):
    """Tanaka's block-wise adaptation network for ``block x block`` encrypted blocks of ``in_channels``."""

    def __init__(self, in_channels: int = 6, block: int = 4, out_channels: int = 3, hidden: int | None = None):
        super().__init__()
        if not isinstance(block, int) or block < 1:
            raise InputError(f"block must be a positive integer, got {block!r}")
        d = in_channels * block * block  # values per encrypted block (96 for Tanaka's 6 x 4 x 4)
        hidden = hidden or d
        self.block = block
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, hidden, kernel_size=block, stride=block, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, out_channels * block * block, 1),
            nn.PixelShuffle(block),
        )

    def forward(self, x):
        if x.shape[-1] % self.block or x.shape[-2] % self.block:
            raise InputError(f"input {tuple(x.shape)} is not a multiple of the block size {self.block}")
        return self.net(x)


class _Adapted(nn.Sequential):
    """``adapter`` then ``classifier``; a classifier's data-dependent initialisation (``data_init``, e.g.
    :class:`ppstudy.models.FastNet`'s whitening) sees the adapter's outputs at initialisation."""

    def data_init(self, x):
        init = getattr(self[1], "data_init", None)
        if callable(init):
            import torch

            with torch.no_grad():
                init(self[0](x))


def with_adaptation(adapter: nn.Module, classifier: nn.Module) -> nn.Sequential:
    """The adaptation network followed by the classifier, as one trainable model."""
    if callable(getattr(classifier, "data_init", None)):
        return _Adapted(adapter, classifier)
    return nn.Sequential(adapter, classifier)
