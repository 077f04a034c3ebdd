"""Pair classifiers for the Big Data Cup: 6-channel cross-encoders (the winner's) and a Siamese variant.

The winner (Thing 2022) stacks the original (3 channels) and the encoded image (3 channels) into one
6-channel input and trains a CNN from scratch to say "match" / "no match": ResNet152, EfficientNet
B0/B3/B7 and Xception, all built here with timm (``in_chans=6``, random init, nothing downloaded).
Scoring ``m`` originals against ``n`` encodings this way costs ``m * n`` forward passes.

:class:`SiameseMatcher` embeds originals and encodings with two towers (the two domains differ, so the
towers do not share weights) and scores a pair by a scaled cosine similarity. It is trained through the
same 6-channel pair interface (its ``forward`` splits the channels), so the shared training loop
:func:`ppstudy.train.fit` trains both; at test time each image is embedded once and all ``m x n`` pairs
are scored by one matrix product (:func:`siamese_score_matrix`).

Augmentation (:class:`PairAugment`): the paper's named augmentations ("shift-scale-rotate", "horizontal-flip",
"random-brightness-contrast", "motion-blur", "gauss-noise", "to-gray", "image-compression", and for the
third subtask's third approach also "multiplicative-noise" and "coarse-dropout"), each with probability
``p``, applied to the original's three channels (and, with ``both=True``, independently to the encoded
image's), as a batch callable for :func:`ppstudy.train.fit`.

The paper's and ours: the transform names are the paper's; the paper names no library, and implementing
them with albumentations (whose transform names they match) and its default ranges is ours.
The probability 0.1 per transform is the paper's only for subtask 3 (its first and third approaches); for
subtasks 1 and 2 the paper says only "randomly", so using 0.1 there is our assumption. Inputs are resized
with :func:`ppstudy.images.resize` (``method="area"``); the CNN input size is ours (the paper gives none).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ppstudy import InputError

#: the paper's architectures -> timm model names (random init, in_chans=6); "tiny_*" are timm's test
#: networks of the same families, used by the smoke profile through the same code path
ARCHITECTURES = {
    "resnet152": "resnet152",
    "efficientnet_b0": "efficientnet_b0",
    "efficientnet_b3": "efficientnet_b3",
    "efficientnet_b7": "efficientnet_b7",
    "xception": "legacy_xception",  # Chollet's original Xception, as in the paper
    "tiny_resnet": "test_resnet",
    "tiny_efficientnet": "test_efficientnet",
}


def timm_name(arch: str) -> str:
    try:
        return ARCHITECTURES[arch]
    except KeyError:
        raise InputError(f"unknown architecture {arch!r} (known: {', '.join(ARCHITECTURES)})") from None


def pair_cnn(arch: str, *, in_chans: int = 6, drop_rate: float = 0.0) -> nn.Module:
    """A timm CNN from scratch with ``in_chans`` input channels and one output logit (match)."""
    import timm

    return timm.create_model(timm_name(arch), pretrained=False, in_chans=in_chans, num_classes=1, drop_rate=drop_rate)


class SiameseMatcher(nn.Module):
    """Two timm towers (original, encoded) -> L2-normalised embeddings; logit = s * cos + b."""

    def __init__(self, arch: str, *, dim: int = 128, channels: int = 3):
        super().__init__()
        import timm

        self.channels = channels
        self.orig = timm.create_model(timm_name(arch), pretrained=False, in_chans=channels, num_classes=dim)
        self.enc = timm.create_model(timm_name(arch), pretrained=False, in_chans=channels, num_classes=dim)
        self.log_scale = nn.Parameter(torch.tensor(np.log(10.0), dtype=torch.float32))
        self.bias = nn.Parameter(torch.zeros(()))

    def embed_originals(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.orig(x), dim=1)

    def embed_encoded(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.enc(x), dim=1)

    def score(self, eo: torch.Tensor, ee: torch.Tensor) -> torch.Tensor:
        """All-pairs logits from embeddings: one matrix product (m x d) @ (d x n)."""
        return self.log_scale.exp() * eo @ ee.T + self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # 6-channel pairs -> (N, 1) logits
        c = self.channels
        eo, ee = self.embed_originals(x[:, :c]), self.embed_encoded(x[:, c:])
        return (self.log_scale.exp() * (eo * ee).sum(1) + self.bias)[:, None]


# ---------------------------------------------------------------------- augmentation
def paper_augmentations(p: float = 0.1, *, extra: bool = False):
    """The paper's named augmentations as an albumentations pipeline (our choice of library: the paper names
    none), each transform with probability ``p``.

    "shift-scale-rotate" is albumentations' ``Affine`` with ``ShiftScaleRotate``'s default ranges (the
    named transform is deprecated in albumentations 2 in favour of ``Affine``). Every range is
    albumentations' default (ours: the paper names the transforms only); ``p = 0.1`` is the paper's value
    for subtask 3.
    """
    import albumentations as A

    t = [
        A.Affine(translate_percent=(-0.0625, 0.0625), scale=(0.9, 1.1), rotate=(-45, 45), p=p),
        A.HorizontalFlip(p=p),
        A.RandomBrightnessContrast(p=p),
        A.MotionBlur(p=p),
        A.GaussNoise(p=p),
        A.ToGray(p=p),
        A.ImageCompression(p=p),
    ]
    if extra:
        t += [A.MultiplicativeNoise(p=p), A.CoarseDropout(p=p)]
    return t


@dataclass(frozen=True)
class PairAugment:
    """Batch callable ``(uint8 NCHW pairs, torch.Generator) -> uint8 NCHW`` for :func:`ppstudy.train.fit`.

    Applies :func:`paper_augmentations` to the original (channels 0-2) and, with ``both``, independently to
    the encoded image (channels 3-5). Seeded from the training loop's generator, so epochs are reproducible.
    ``p = 0.1`` is the paper's for subtask 3 only (our assumption for subtasks 1 and 2).
    """

    p: float = 0.1
    both: bool = False
    extra: bool = False

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        import albumentations as A

        if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] != 6:
            raise InputError(f"PairAugment: expected uint8 N x 6 x H x W pairs, got {x.dtype} {tuple(x.shape)}")
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
        comp = A.Compose(paper_augmentations(self.p, extra=self.extra), seed=seed)
        arr = x.permute(0, 2, 3, 1).cpu().numpy().copy()  # N H W 6
        parts = (slice(0, 3), slice(3, 6)) if self.both else (slice(0, 3),)
        for i in range(arr.shape[0]):  # albumentations works image by image
            for s in parts:
                arr[i, :, :, s] = comp(image=np.ascontiguousarray(arr[i, :, :, s]))["image"]
        return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous().to(x.device)


# ---------------------------------------------------------------------- inference
def _normalise(xb: torch.Tensor, normalization, dev) -> torch.Tensor:
    mean, std = (torch.as_tensor(v, dtype=torch.float32, device=dev)[None, :, None, None] for v in normalization)
    return (xb.to(dev).float() / 255.0 - mean) / std


@torch.no_grad()
def predict_proba(
    model: nn.Module, pairs: np.ndarray, normalization, *, batch_size: int = 256, device=None
) -> np.ndarray:
    """Match probabilities of uint8 N x H x W x 6 pairs (same normalisation as training)."""
    dev = torch.device(device) if device else next(model.parameters()).device
    if pairs.ndim != 4 or pairs.shape[3] != 6 or pairs.dtype != np.uint8:
        raise InputError(f"pairs: expected uint8 N x H x W x 6, got {pairs.dtype} {pairs.shape}")
    was = model.training
    model.eval()
    out = []
    for i in range(0, len(pairs), batch_size):
        xb = torch.from_numpy(np.ascontiguousarray(pairs[i : i + batch_size])).permute(0, 3, 1, 2)
        out.append(torch.sigmoid(model(_normalise(xb, normalization, dev)).float().reshape(-1)).cpu().numpy())
    model.train(was)
    return np.concatenate(out) if out else np.zeros(0)


@torch.no_grad()
def siamese_score_matrix(
    model: SiameseMatcher,
    originals: np.ndarray,
    encoded: np.ndarray,
    normalization,
    *,
    batch_size: int = 256,
    device=None,
) -> np.ndarray:
    """All-pairs match probabilities (m x n): embed each image once, one matrix product."""
    dev = torch.device(device) if device else next(model.parameters()).device
    mean, std = (list(v) for v in normalization)
    c = model.channels
    was = model.training
    model.eval()

    def embed(x, fn, norm):
        out = []
        for i in range(0, len(x), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size])).permute(0, 3, 1, 2)
            out.append(fn(_normalise(xb, norm, dev)))
        return torch.cat(out)

    eo = embed(originals, model.embed_originals, (mean[:c], std[:c]))
    ee = embed(encoded, model.embed_encoded, (mean[c:], std[c:]))
    p = torch.sigmoid(model.score(eo, ee).float()).cpu().numpy()
    model.train(was)
    return p


def pair_throughput(
    model: nn.Module,
    originals: np.ndarray,
    encoded: np.ndarray,
    normalization,
    *,
    siamese: bool = False,
    batch_size: int = 256,
) -> dict:
    """Pairs scored per second when every original is scored against every encoding (m x n pairs).

    Cross-encoder: ``m * n`` forward passes of 6-channel pairs. Siamese: ``m + n`` embeddings and one
    matrix product. Returns ``{"pairs": m*n, "seconds": s, "pairs_per_s": m*n/s}``.
    """
    m, n = len(originals), len(encoded)
    if siamese and not isinstance(model, SiameseMatcher):
        raise InputError(f"pair_throughput: siamese=True needs a SiameseMatcher, got {type(model).__name__}")
    t0 = time.perf_counter()
    if isinstance(model, SiameseMatcher) and siamese:
        siamese_score_matrix(model, originals, encoded, normalization, batch_size=batch_size)
    else:
        ii, jj = np.divmod(np.arange(m * n), n)
        for s in range(0, m * n, batch_size * 4):
            sl = slice(s, s + batch_size * 4)
            predict_proba(
                model,
                np.concatenate([originals[ii[sl]], encoded[jj[sl]]], axis=3),
                normalization,
                batch_size=batch_size,
            )
    dt = time.perf_counter() - t0
    return {"pairs": m * n, "seconds": dt, "pairs_per_s": m * n / dt if dt > 0 else float("nan")}
