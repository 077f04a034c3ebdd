"""An inversion network: a small U-Net that learns to map cipher images back to plain images.

Two threat models (ito-hiroki/learnable_encryption_robustness attacks block and pixel schemes this way):

* **scheme known, key not** (``keys="drawn"``): the attacker encrypts public images under keys it draws
  itself (a fresh key for every batch) and trains the network to undo the scheme *whatever the key*;
  it then applies it to the target's cipher images. What it learns is what every key leaves in place;
* **pairs known** (``keys="target"``): the attacker holds plain/cipher pairs under the target key (the
  known-plaintext setting) and trains on them; the network then decrypts further images of that key.

The network sees the cipher image in its public layout (:func:`input_layout`: the grayscale-based EtC's
``H x C*W`` strip is laid back as ``C`` channels of ``H x W`` without any key; Tanaka's six 4-bit planes
are six channels) and outputs ``H x W x 3`` in [0, 1], trained with the mean absolute error. The loop is
a short one of its own: :func:`ppstudy.train.fit` trains classifiers (integer labels and accuracy), not
image-to-image maps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ppstudy import InputError, validate
from ppstudy.images import check_uint8


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """A two-level U-Net: ``width``, ``2 width`` and ``4 width`` channels at full, half and quarter size,
    skip connections, a sigmoid output of ``out_channels`` (an image in [0, 1])."""

    def __init__(self, in_channels: int, out_channels: int = 3, width: int = 16):
        super().__init__()
        w = validate.positive_int("width", width)
        self.enc1 = _block(in_channels, w)
        self.enc2 = _block(w, 2 * w)
        self.mid = _block(2 * w, 4 * w)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec2 = _block(4 * w, 2 * w)
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.dec1 = _block(2 * w, w)
        self.out = nn.Conv2d(w, out_channels, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        m = self.mid(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return torch.sigmoid(self.out(d1))


def input_layout(cipher: np.ndarray, plain_shape) -> np.ndarray:
    """Cipher images as the network's ``N x H x W x C'`` input for plain images of ``plain_shape``
    (H, W, C): unchanged when they have the plain size; a ``H x C*W x 1`` strip (grayscale-based EtC)
    laid back as ``C`` channels. No key is involved: this is the scheme's public layout."""
    check_uint8(cipher, "cipher images")
    h, w, c = plain_shape
    if cipher.ndim != 4:
        raise InputError(f"cipher images: expected N x H x W x C, got {cipher.shape}")
    if cipher.shape[1:3] == (h, w):
        return cipher
    if cipher.shape[1:] == (h, c * w, 1):
        n = len(cipher)
        return np.ascontiguousarray(cipher.reshape(n, h, c, w).transpose(0, 1, 3, 2))
    raise InputError(f"cipher images of {cipher.shape[1:]} do not fit plain images of {tuple(plain_shape)}")


def _tensor(x: np.ndarray, device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(device).float().div_(255.0)


@dataclass
class Inversion:
    """A trained inversion network, its input layout and its training record."""

    model: UNet
    plain_shape: tuple[int, int, int]
    in_channels: int
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @torch.no_grad()
    def reconstruct(self, cipher: np.ndarray, *, batch: int = 256) -> np.ndarray:
        """Plain-image estimates (uint8 N x H x W x C, the plain images' channels) of cipher images."""
        x = input_layout(cipher, self.plain_shape)
        dev = next(self.model.parameters()).device
        self.model.eval()
        out = np.empty((len(x), *self.plain_shape), np.uint8)
        for i in range(0, len(x), batch):
            y = self.model(_tensor(x[i : i + batch], dev))
            out[i : i + batch] = (y.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        return out


def train_inversion(
    plain: np.ndarray,
    encrypt: Callable[[np.ndarray, int], np.ndarray] | np.ndarray,
    *,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 2e-3,
    width: int = 16,
    seed: int = 0,
    device=None,
    time_budget_s: float | None = None,
) -> Inversion:
    """Train a :class:`UNet` to map ``encrypt(plain_batch, batch_number)`` back to ``plain_batch``.

    ``plain``: public (or known) plain images, uint8 N x H x W x C (C = 3 colour, or 1 grayscale). ``encrypt(x, i)`` encrypts batch ``i``
    of the whole training (a fresh key per batch for the key-drawing attacker; the target key for the
    known-pairs one) and returns uint8 cipher images; or ``encrypt`` is the array of the ``N`` cipher
    images of ``plain`` themselves (fixed pairs: the known-pairs attacker, or ciphers too slow to redo). AdamW with a cosine decay of ``lr`` over the
    training, the mean absolute error; ``time_budget_s`` stops after the epoch that exceeds it."""
    check_uint8(plain, "plain images")
    if plain.ndim != 4 or plain.shape[-1] not in (1, 3) or not len(plain):
        raise InputError(f"plain images: expected N x H x W x 3 (or x 1), got {plain.shape}")
    epochs = validate.positive_int("epochs", epochs)
    batch_size = validate.positive_int("batch_size", batch_size)
    seed = validate.integer("seed", seed, low=0)
    dev = torch.device(device or "cpu")
    shape = (int(plain.shape[1]), int(plain.shape[2]), int(plain.shape[3]))
    if shape[0] % 4 or shape[1] % 4:
        raise InputError(f"inversion network: image sides must be multiples of 4, got {shape}")
    fixed, enc = None, None
    if isinstance(encrypt, np.ndarray):
        fixed = input_layout(encrypt, shape)
        if len(fixed) != len(plain):
            raise InputError(f"inversion network: {len(fixed)} cipher images for {len(plain)} plain images")
    else:
        enc = encrypt

    def batch_cipher(idx: np.ndarray, i: int) -> np.ndarray:
        if fixed is not None:
            return fixed[idx]
        assert enc is not None
        return input_layout(enc(plain[idx], i), shape)

    torch.manual_seed(seed)
    probe = batch_cipher(np.arange(1), 0)
    model = UNet(probe.shape[-1], shape[2], width).to(dev)
    steps_per_epoch = max(1, len(plain) // batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps_per_epoch)
    rng = np.random.default_rng(seed)
    history, t0, step = [], time.perf_counter(), 0
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(plain))
        total = 0.0
        for s in range(steps_per_epoch):
            idx = np.sort(order[s * batch_size : (s + 1) * batch_size])
            xb = plain[idx]
            yb = batch_cipher(idx, step)
            out = model(_tensor(yb, dev))
            loss = torch.nn.functional.l1_loss(out, _tensor(xb, dev))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
            step += 1
        history.append({"epoch": epoch + 1, "l1": total / (steps_per_epoch * batch_size)})
        if time_budget_s is not None and time.perf_counter() - t0 > time_budget_s:
            break
    return Inversion(model.eval(), shape, int(probe.shape[-1]), history, time.perf_counter() - t0)


def drawn_keys(spec, shape, seed: int) -> Callable[[np.ndarray, int], np.ndarray]:
    """``encrypt(x, i)`` under a fresh key of ``spec`` for every batch ``i`` (the key-drawing attacker)."""

    def enc(x: np.ndarray, i: int) -> np.ndarray:
        return spec.encrypt(x, spec.keygen(shape, seed=np.random.SeedSequence([int(seed), int(i)])))

    return enc


def target_key(spec, key) -> Callable[[np.ndarray, int], np.ndarray]:
    """``encrypt(x, i)`` under the target key (the attacker who holds pairs)."""

    def enc(x: np.ndarray, i: int) -> np.ndarray:
        return spec.encrypt(x, key)

    return enc
