"""The one training loop of the book: data resident on the device, batched augmentation and encryption.

Every chapter that trains a network calls :func:`fit` (and :func:`evaluate`). The API in one example::

    from ppstudy import schedules, train
    from ppstudy.models import resnet18_cifar

    res = train.fit(
        resnet18_cifar(),
        train=(x_train, y_train),          # uint8 images, NHWC numpy or NCHW torch, any channel count
        test=(x_test, y_test),             # optional; evaluated after every epoch
        schedule=schedules.paper_sgd(epochs=300),     # or schedules.one_cycle(epochs=30)
        transform=my_encrypt,              # optional torch callable on a uint8 NCHW batch (on the device)
        augment_before_transform=False,    # False: augmentation in the cloud, after encryption
        augment=train.Augment(pad=4, flip=True),
        loss="ce",                         # "ce" (integer labels) or "bce" (0/1 labels, one logit)
        seed=0, checkpoint_dir="runs/.../ckpt", device=None,   # None: cuda if available, else cpu
    )
    res.history          # list of per-epoch dicts: epoch, loss, train_acc, test_acc, lr, seconds
    res.images_per_s     # training throughput (images / second of training steps)
    res.test_acc         # accuracy after the last epoch

Pipeline of one training batch (all on the device, no Python loop over images):
``uint8 batch -> [augment] -> transform -> [augment] -> float / 255 -> normalise -> model``.
``augment_before_transform=True`` is the paper's "augmentation in the client" (shift/flip the plain image,
then encrypt with the fixed key); ``False`` is "augmentation in the cloud" (encrypt, then shift/flip the
encrypted image). ``transform`` may return uint8 (divided by 255) or float (used as is) with any channel
count; with ``transform=None`` the images are used as they are (e.g. already encrypted once, or the
6-channel pairs of the Big Data Cup chapter).

Augmentation (:class:`Augment`): random shift = zero-pad by ``pad`` and crop back at a random offset
(torchvision's ``RandomCrop(32, padding=4)``), random horizontal flip; batched with index arithmetic.

Schedules: :mod:`ppstudy.schedules` (the optimizer and learning-rate recipe of each chapter).

Determinism and resume: every random draw of epoch ``e`` (shuffling, shifts, flips) comes from a
generator seeded with ``(seed, e)``, so an epoch does not depend on what ran before it. With
``checkpoint_dir`` set, the run's checkpoint lives in ``checkpoint_dir/<tag>-<fingerprint>/``, the
fingerprint being a hash of everything that determines the run: the training and test data (their bytes),
the transform's own fingerprint (the cipher key), the model (architecture and parameter count), the
schedule's hyper-parameters, augmentation, loss, normalisation, seed and the batches per epoch. A rerun
with the same settings resumes after the last finished epoch (ending, on CPU, with weights bit-identical to
an uninterrupted run; tests/test_train.py); a run with any other setting -- another key, other data -- gets
another directory and trains afresh. Each directory holds ``checkpoint.pt`` (model, optimizer, scheduler,
RNG states, epoch, history; written atomically after every epoch and loaded with ``weights_only=True``) and
``settings.json`` (what the fingerprint was made of), which :func:`list_checkpoints` reads.

Precision: bfloat16 autocast on CUDA and on CPUs with native bf16 instructions (AMX or AVX-512 BF16:
:func:`cpu_bf16_capable`), float32 elsewhere (``precision="auto"``; "bf16" / "fp32" force it); the
precision used is returned in ``TrainResult.precision``. channels_last on CUDA unless asked otherwise.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ppstudy import InputError
from ppstudy.schedules import Schedule

CHECKPOINT = "checkpoint.pt"
SETTINGS = "settings.json"


# --------------------------------------------------------------------------- augmentation
@dataclass(frozen=True, repr=False)
class Augment:
    """Random rotation (uniform in ``±rotate`` degrees; 0: none), random shift (zero padding ``pad`` then a
    random crop back to the input size) and horizontal flip, in that order, batched on the device.

    The rotation resamples with the nearest pixel (values stay the integers they were; corners outside the
    rotated image become 0, as the zero padding of the shift does).
    """

    pad: int = 4
    flip: bool = True
    rotate: float = 0.0
    #: how the shift fills the border: "zeros" (torchvision's RandomCrop padding) or "reflect"
    padding_mode: str = "zeros"
    #: flip each image in every other epoch (a random half in even epochs, the other half in odd ones)
    #: instead of a fresh coin per epoch: the fast CIFAR recipes' "alternating flip"
    alternate_flip: bool = False

    def __post_init__(self):
        if self.padding_mode not in ("zeros", "reflect"):
            raise InputError(f"Augment: padding_mode must be 'zeros' or 'reflect', got {self.padding_mode!r}")
        for name in ("flip", "alternate_flip"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InputError(f"Augment: {name} must be True or False, got {getattr(self, name)!r}")
        if not isinstance(self.pad, (int, np.integer)) or isinstance(self.pad, bool) or not 0 <= self.pad <= 64:
            raise InputError(f"Augment: pad must be an integer in [0, 64], got {self.pad!r}")

    def __repr__(self) -> str:  # the fields of the first version only when the new ones are at their defaults
        extra = ""
        if self.padding_mode != "zeros":
            extra += f", padding_mode={self.padding_mode!r}"
        if self.alternate_flip:
            extra += ", alternate_flip=True"
        return f"Augment(pad={self.pad!r}, flip={self.flip!r}, rotate={self.rotate!r}{extra})"

    def plan(
        self, n: int, gen: torch.Generator, device, *, epoch: int = 0, seed: int = 0, order: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Every random draw of an epoch of ``n`` images at once (shifts, flips), moved to ``device`` in one
        copy: per-batch draws on the CPU would make every batch wait for the GPU. With ``alternate_flip``
        the flips depend on the image (``order[i]`` is the image at position ``i``), ``seed`` and ``epoch``."""
        out = {}
        if self.rotate:
            out["angle"] = (torch.rand(n, generator=gen) * 2 - 1) * float(self.rotate)
        if self.pad:
            out["dy"] = torch.randint(0, 2 * self.pad + 1, (n,), generator=gen)
            out["dx"] = torch.randint(0, 2 * self.pad + 1, (n,), generator=gen)
        if self.flip and self.alternate_flip:
            half = torch.rand(n, generator=torch.Generator().manual_seed(int(seed) * 7_919 + 17)) < 0.5
            idx = order.cpu() if order is not None else torch.arange(n)
            out["flip"] = half[idx] ^ bool(epoch % 2)
        elif self.flip:
            out["flip"] = torch.rand(n, generator=gen) < 0.5
        return {k: v.to(device) for k, v in out.items()}

    def apply(self, x: torch.Tensor, draws: dict[str, torch.Tensor]) -> torch.Tensor:
        """Shift and flip a batch with its slice of the epoch's :meth:`plan` (all on ``x``'s device)."""
        n, c, h, w = x.shape
        if self.rotate:
            a = torch.deg2rad(draws["angle"]).float()
            cos, sin = torch.cos(a), torch.sin(a)
            zero = torch.zeros_like(a)
            theta = torch.stack(
                [torch.stack([cos, -sin * h / w, zero], 1), torch.stack([sin * w / h, cos, zero], 1)], 1
            )  # (n, 2, 3), pixel aspect kept
            grid = torch.nn.functional.affine_grid(theta, [n, c, h, w], align_corners=False)
            dtype = x.dtype
            x = torch.nn.functional.grid_sample(
                x.float(), grid, mode="nearest", padding_mode="zeros", align_corners=False
            ).to(dtype)
        if self.pad:
            p = self.pad
            if self.padding_mode == "reflect":
                xp = torch.nn.functional.pad(x.float(), (p, p, p, p), mode="reflect").to(x.dtype)
            else:
                xp = torch.nn.functional.pad(x, (p, p, p, p))
            rows = draws["dy"][:, None] + torch.arange(h, device=x.device)[None]  # n, h
            cols = draws["dx"][:, None] + torch.arange(w, device=x.device)[None]  # n, w
            idx = torch.arange(n, device=x.device)
            # advanced indexing -> (n, h, w, c); back to NCHW
            x = xp.permute(0, 2, 3, 1)[idx[:, None, None], rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
        if self.flip:
            x = torch.where(draws["flip"][:, None, None, None], x.flip(3), x)
        return x.contiguous()

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return self.apply(x, self.plan(x.shape[0], gen, x.device))


# --------------------------------------------------------------------------- data
def as_nchw_uint8(x, *, name: str = "images") -> torch.Tensor:
    """uint8 NHWC numpy (or NCHW torch) -> uint8 NCHW torch tensor (CPU)."""
    if isinstance(x, torch.Tensor):
        if x.dtype != torch.uint8 or x.ndim != 4:
            raise InputError(f"{name}: expected a uint8 NCHW tensor, got {x.dtype} {tuple(x.shape)}")
        return x
    if not isinstance(x, np.ndarray):
        raise InputError(f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}")
    if x.dtype != np.uint8:
        raise InputError(f"{name}: expected dtype uint8, got {x.dtype}")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise InputError(f"{name}: expected NxHxWxC images, got shape {x.shape}")
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def _labels(y, n, loss, name):
    y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y)
    if y.ndim != 1 or y.shape[0] != n:
        raise InputError(f"{name}: expected {n} labels, got shape {tuple(y.shape)}")
    if loss == "bce":
        if not bool(((y == 0) | (y == 1)).all()):
            raise InputError(f"{name}: binary loss needs 0/1 labels")
        return y.float()
    if y.dtype.is_floating_point:
        raise InputError(f"{name}: class labels must be integers, got {y.dtype}")
    return y.long()


def _to_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


def compute_normalization(x: torch.Tensor, transform=None, *, batch: int = 1024, limit: int = 10000):
    """Per-channel mean and std of ``transform(x)`` (scaled to [0, 1]) over up to ``limit`` images."""
    x = x[:limit]
    if not x.shape[0]:
        raise InputError("compute_normalization: no images")
    s: torch.Tensor | None = None
    s2: torch.Tensor | None = None
    count = 0
    for i in range(0, x.shape[0], batch):
        b = x[i : i + batch]
        b = _to_float(transform(b) if transform else b).double()
        cs, cs2 = b.sum((0, 2, 3)), (b * b).sum((0, 2, 3))
        s, s2 = (cs, cs2) if s is None or s2 is None else (s + cs, s2 + cs2)
        count += b.shape[0] * b.shape[2] * b.shape[3]
    assert s is not None and s2 is not None
    mean = s / count
    std = (s2 / count - mean**2).clamp_min(1e-12).sqrt()
    return mean.float(), std.float()


# --------------------------------------------------------------------------- results
@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict]
    images_per_s: float
    train_seconds: float
    resumed_from: int  # epochs already done when this call started (0 for a fresh run)
    normalization: tuple[list[float], list[float]]
    precision: str = "fp32"  # "bf16" (autocast) or "fp32": what the training steps ran in
    channels_last: bool = False  # the memory layout the training steps ran in

    @property
    def test_acc(self) -> float | None:
        return self.history[-1].get("test_acc") if self.history else None

    @property
    def resumed_seconds(self) -> float:
        """Seconds of training steps of the epochs a checkpoint already held when this call started (done by
        an earlier invocation: what a rerun from scratch would spend on top of ``train_seconds``)."""
        return float(sum(h.get("seconds") or 0.0 for h in self.history[: self.resumed_from]))


def _device(device) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def cpu_bf16_capable() -> bool:
    """Whether this CPU has native bfloat16 matrix instructions (AMX-BF16 or AVX-512 BF16), where oneDNN's
    bf16 convolutions are faster than float32; without them bf16 is emulated and slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return ("amx_bf16" in flags or "avx512_bf16" in flags) and torch.backends.mkldnn.is_available()


def resolve_precision(precision: str | None, dev: torch.device) -> str:
    """ "bf16" or "fp32" for ``precision`` "auto" (or None): bf16 autocast on CUDA and on CPUs with native
    bf16 (:func:`cpu_bf16_capable`), float32 elsewhere."""
    if precision in (None, "auto"):
        if dev.type == "cuda":
            return "bf16"
        return "bf16" if dev.type == "cpu" and cpu_bf16_capable() else "fp32"
    if precision not in ("bf16", "fp32"):
        raise InputError(f"precision must be 'auto', 'bf16' or 'fp32', got {precision!r}")
    return precision


def channels_last_faster(model: nn.Module, sample: torch.Tensor, *, bf16: bool, passes: int = 2) -> bool:
    """Whether a training step (forward and backward) of ``model`` on ``sample`` (network inputs, float)
    runs faster in channels_last than in the default NCHW layout on this machine: the best of ``passes``
    timed steps each, after one warm-up, on copies of the model (``model`` itself is not touched). On CPUs
    the answer depends on the CPU and the network (oneDNN's kernels), so it is measured, not assumed."""
    import copy
    import time

    best = {}
    for cl in (False, True):
        m = copy.deepcopy(model).train()
        x = sample.detach().clone()
        if cl:
            m = m.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        times = []
        for _ in range(passes + 1):
            t0 = time.perf_counter()
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
                out = m(x)
            out.float().sum().backward()
            times.append(time.perf_counter() - t0)
        best[cl] = min(times[1:])
        del m
    return best[True] < best[False]


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def _atomic_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def tensor_digest(obj) -> str:
    """SHA-256 of everything a checkpoint holds: every tensor's dtype, shape and bytes and every other
    value's repr, walked in a fixed order (dict keys sorted). One flipped bit anywhere changes it."""
    h = hashlib.sha256()

    def walk(o):
        if isinstance(o, torch.Tensor):
            t = o.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(o, dict):
            h.update(b"{")
            for k in sorted(o, key=repr):
                h.update(repr(k).encode())
                walk(o[k])
            h.update(b"}")
        elif isinstance(o, (list, tuple)):
            h.update(b"[")
            for v in o:
                walk(v)
            h.update(b"]")
        else:
            h.update(repr(o).encode())

    walk(obj)
    return h.hexdigest()


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :func:`fit`; a corrupt or foreign file raises InputError, and so does
    one whose contents no longer match the digest written with them (:func:`tensor_digest`): a flipped bit
    in a weight would otherwise be resumed from silently."""
    path = Path(path)
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"no checkpoint at {path}") from None
    except Exception as e:
        raise InputError(f"checkpoint {path} is corrupt: {e}") from None
    if not isinstance(ck, dict) or "model" not in ck or "epoch" not in ck:
        raise InputError(f"{path} is not a ppstudy training checkpoint")
    if "digest" in ck:
        want = ck.pop("digest")
        if tensor_digest(ck) != want:
            raise InputError(f"checkpoint {path} is corrupt: its contents do not match their digest")
    return ck


# --------------------------------------------------------------------------- loop
def _loss_fn(loss: str, label_smoothing: float):
    if loss == "ce":
        ce = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        return ce
    if loss == "bce":
        bce = nn.BCEWithLogitsLoss()

        def f(logits, y):
            t = y * (1 - label_smoothing) + 0.5 * label_smoothing
            return bce(logits.reshape(-1), t)

        return f
    raise InputError(f"loss must be 'ce' or 'bce', got {loss!r}")


def _correct(logits, y, loss):
    if loss == "bce":
        return ((logits.reshape(-1) > 0).float() == y).sum()
    return (logits.argmax(1) == y).sum()


def _prepare(xb, yb, *, transform, augment, before, gen, mean, std, channels_last, train, draws=None):
    def aug(t):
        return augment.apply(t, draws) if draws is not None else augment(t, gen)

    if train and augment is not None and before:
        xb = aug(xb)
    if transform is not None:
        xb = transform(xb)
    if train and augment is not None and not before:
        xb = aug(xb)
    xb = (_to_float(xb) - mean) / std
    if channels_last:
        xb = xb.contiguous(memory_format=torch.channels_last)
    return xb


TTA = (None, "flip", "flip-translate")


def _tta_logits(model, xb: torch.Tensor, tta: str | None) -> torch.Tensor:
    """Logits of ``xb`` averaged over its test-time variants: ``"flip"`` the image and its mirror;
    ``"flip-translate"`` half that, half the mean over the image shifted by one pixel up-left and
    down-right (reflected borders), each with its mirror (the fast CIFAR recipes' evaluation)."""

    def mirror(t):
        return (model(t).float() + model(t.flip(3)).float()) / 2

    if tta is None:
        return model(xb).float()
    if tta == "flip":
        return mirror(xb)
    h, w = xb.shape[2:]
    p = torch.nn.functional.pad(xb, (1, 1, 1, 1), mode="reflect")
    shifted = (mirror(p[:, :, :h, :w].contiguous()) + mirror(p[:, :, 2:, 2:].contiguous())) / 2
    return 0.5 * mirror(xb) + 0.5 * shifted


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x,
    y,
    *,
    transform=None,
    batch_size: int = 512,
    device=None,
    normalization=None,
    loss: str = "ce",
    tta: str | None = None,
    precision: str | None = "auto",
    channels_last: bool | None = None,
    tta_before_transform: bool = False,
    return_correct: bool = False,
):
    """Accuracy of ``model`` on uint8 images ``x`` (NHWC numpy or NCHW torch) after ``transform``.

    ``normalization`` is the ``(mean, std)`` the model was trained with (``TrainResult.normalization``);
    it is required: statistics of the test images themselves would leak the test set into the model.
    ``tta`` (None, ``"flip"``, ``"flip-translate"``): test-time variants of the network's input, i.e. of the
    image *after* ``transform`` (see :func:`_tta_logits`); who may flip what is the caller's decision (a
    mirrored cipher image is not the cipher of the mirrored image): with ``tta_before_transform`` the
    variants are made of the plain images and each is transformed (the client makes them, before
    encryption), otherwise of the transformed ones (the cloud makes them). ``return_correct``: also the 0/1
    correctness of every image, ``(accuracy, bool array)``.
    """
    if tta not in TTA:
        raise InputError(f"tta must be one of {TTA}, got {tta!r}")
    if normalization is None:
        raise InputError(
            "evaluate: pass the training normalization (TrainResult.normalization); "
            "statistics of the test set are never used"
        )
    dev = _device(device)
    xt = as_nchw_uint8(x, name="test images").to(dev)
    yt = _labels(y, xt.shape[0], loss, "test labels").to(dev)
    mean, std = (torch.as_tensor(v, dtype=torch.float32, device=dev)[None, :, None, None] for v in normalization)
    cuda = dev.type == "cuda"
    bf16 = resolve_precision(precision, dev) == "bf16"
    cl = cuda if channels_last is None else bool(channels_last)
    was = model.training
    model.eval()
    correct = torch.zeros((), device=dev, dtype=torch.long)
    per_image = []

    def prep(b):
        return _prepare(
            b,
            None,
            transform=transform,
            augment=None,
            before=False,
            gen=None,
            mean=mean,
            std=std,
            channels_last=cl,
            train=False,
        )

    for i in range(0, xt.shape[0], batch_size):
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            if tta is not None and tta_before_transform:
                out = _tta_logits_before(model, xt[i : i + batch_size], tta, prep)
            else:
                out = _tta_logits(model, prep(xt[i : i + batch_size]), tta)
        yb = yt[i : i + batch_size]
        if return_correct:
            hit = (out.float().reshape(-1) > 0).float() == yb if loss == "bce" else out.float().argmax(1) == yb
            per_image.append(hit.cpu())
        correct += _correct(out.float(), yb, loss).long()  # no host sync per batch
    model.train(was)
    acc = int(correct) / max(1, xt.shape[0])
    if return_correct:
        return acc, torch.cat(per_image).numpy() if per_image else np.zeros(0, dtype=bool)
    return acc


def _tta_logits_before(model, xb: torch.Tensor, tta: str, prep) -> torch.Tensor:
    """:func:`_tta_logits` with the variants made of the images before ``prep`` (transform + normalise)."""

    def mirror(t):
        return (model(prep(t)).float() + model(prep(t.flip(3).contiguous())).float()) / 2

    if tta == "flip":
        return mirror(xb)
    h, w = xb.shape[2:]
    p = torch.nn.functional.pad(xb.float(), (1, 1, 1, 1), mode="reflect").to(xb.dtype)
    shifted = (mirror(p[:, :, :h, :w].contiguous()) + mirror(p[:, :, 2:, 2:].contiguous())) / 2
    return 0.5 * mirror(xb) + 0.5 * shifted


def data_digest(*arrays) -> str:
    """SHA-256 (16 hex digits) of arrays' shapes, dtypes and bytes: the identity of a training set."""
    h = hashlib.sha256()
    for a in arrays:
        t = a.detach().cpu().contiguous().numpy() if isinstance(a, torch.Tensor) else np.ascontiguousarray(a)
        h.update(repr((t.shape, str(t.dtype))).encode())
        h.update(t.tobytes())
    return h.hexdigest()[:16]


def _fingerprint(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def transform_fingerprint(transform) -> str | None:
    """The identity of a batch transform: its ``fingerprint`` attribute (the ciphers' torch transforms carry
    the digest of their key), None for no transform."""
    if transform is None:
        return None
    fp = getattr(transform, "fingerprint", None)
    if not isinstance(fp, str) or not fp:
        raise InputError(
            "a transform used with checkpoints needs a 'fingerprint' attribute (a string that "
            "identifies it, e.g. a digest of its key); the ciphers' torch transforms have one"
        )
    return fp


def checkpoint_path(checkpoint_dir, tag: str, fingerprint: str) -> Path:
    """Where the checkpoint of a run with this tag and fingerprint lives."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in (tag or "run"))[:60]
    return Path(checkpoint_dir) / f"{safe}-{fingerprint}" / CHECKPOINT


def list_checkpoints(checkpoint_dir) -> list[dict]:
    """Every checkpoint under ``checkpoint_dir`` (recursively): path, tag, fingerprint, epochs done, size,
    last modification, and the settings it was written for."""
    out: list[dict] = []
    root = Path(checkpoint_dir)
    if not root.is_dir():
        return out
    for ck in sorted(root.rglob(CHECKPOINT)):
        d = ck.parent
        try:
            settings = json.loads((d / SETTINGS).read_text())
        except (OSError, ValueError):
            settings = {}
        st = ck.stat()
        out.append(
            {
                "path": d,
                "tag": settings.get("tag"),
                "fingerprint": settings.get("fingerprint"),
                "epochs_done": settings.get("epochs_done"),
                "epochs": settings.get("epochs"),
                "bytes": sum(f.stat().st_size for f in d.iterdir() if f.is_file()),
                "modified": st.st_mtime,
                "settings": settings,
            }
        )
    return out


def fit(
    model: nn.Module,
    train,
    test=None,
    *,
    schedule: Schedule,
    transform: Callable | None = None,
    augment: Augment | None = Augment(),
    augment_before_transform: bool = False,
    loss: str = "ce",
    normalization=None,
    seed: int = 0,
    device=None,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: bool = True,
    desc: str = "train",
    eval_batch_size: int = 512,
    amp: bool | None = None,
    on_epoch_end: Callable[[int, dict], None] | None = None,
    max_steps_per_epoch: int | None = None,
    tag: str = "",
    checkpoint_every: int = 1,
    precision: str | None = "auto",
    channels_last: bool | str | None = None,
    tta: str | None = None,
    test_every: int = 1,
) -> TrainResult:
    """Train ``model`` on ``train = (images, labels)``; see the module docstring for the pipeline.

    ``normalization``: ``(mean, std)`` per channel of the network input, or None to measure it on the
    (transformed, un-augmented) training images. ``on_epoch_end(epoch, record)`` is called after the
    checkpoint of each epoch is written (tests use it to simulate a kill). ``max_steps_per_epoch`` caps the
    batches per epoch (benchmarks). ``tag`` names the run's checkpoint directory (e.g. a table row name).
    ``checkpoint_dir``: see the module docstring (one directory per fingerprint of the settings);
    ``checkpoint_every``: write it after every k-th epoch (and after the last).
    ``precision``: "auto" (bf16 autocast on CUDA and on CPUs with native bf16, float32 elsewhere: see
    :func:`resolve_precision`), "bf16" or "fp32"; the one used is in ``TrainResult.precision``.
    ``channels_last``: None for CUDA only, True/False, or "auto": on CUDA, and on a CPU where
    :func:`channels_last_faster` measures it faster for this model (the one used is in
    ``TrainResult.channels_last``). ``tta``: the test-time variants of the per-epoch
    test accuracy (:func:`evaluate`), made where the augmentation is (``augment_before_transform``: of the
    plain images, before ``transform``); ``test_every``: score the test set after every k-th epoch and after the
    last (test-time variants cost several forward passes). A model with a ``data_init(x)`` method (:class:`ppstudy.models.FastNet`'s
    whitening) gets it called once, before training, with up to 10,000 network inputs (transformed,
    normalised, not augmented) of the training set.
    """
    from ppstudy.progress import bar, note

    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    dev = _device(device)
    cuda = dev.type == "cuda"
    if amp is not None:  # the older switch: amp=False is float32, amp=True bf16 where autocast helps
        precision = ("auto" if amp else "fp32") if precision == "auto" else precision
    prec = resolve_precision(precision, dev)
    use_amp = prec == "bf16"
    if channels_last not in (None, True, False, "auto"):
        raise InputError(f"channels_last must be None, True, False or 'auto', got {channels_last!r}")
    cl = cuda if channels_last in (None, "auto") else bool(channels_last)
    if tta not in TTA:
        raise InputError(f"tta must be one of {TTA}, got {tta!r}")
    lossf = _loss_fn(loss, schedule.label_smoothing)
    xtr = as_nchw_uint8(train[0], name="training images")
    ytr = _labels(train[1], xtr.shape[0], loss, "training labels")
    n = xtr.shape[0]
    bs = schedule.batch_size
    steps = n // bs if n >= bs else 1  # drop the last partial batch (as torch DataLoader drop_last)
    if max_steps_per_epoch:
        steps = min(steps, max_steps_per_epoch)
    xtr, ytr = xtr.to(dev), ytr.to(dev)
    if test is not None:
        xte = as_nchw_uint8(test[0], name="test images").to(dev)
        yte = _labels(test[1], xte.shape[0], loss, "test labels").to(dev)

    torch.manual_seed(seed)
    if normalization is None:
        normalization = compute_normalization(xtr, transform)
    mean, std = (torch.as_tensor(v, dtype=torch.float32, device=dev)[None, :, None, None] for v in normalization)
    norm_list = (mean.flatten().tolist(), std.flatten().tolist())

    model = model.to(dev)
    if channels_last == "auto" and not cuda:
        probe = xtr[: min(n, 128)]
        cl = channels_last_faster(
            model,
            _prepare(
                probe,
                None,
                transform=transform,
                augment=None,
                before=False,
                gen=None,
                mean=mean,
                std=std,
                channels_last=False,
                train=False,
            ),
            bf16=use_amp,
        )
    if cl:
        model = model.to(memory_format=torch.channels_last)
    if cuda:
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick the fastest kernels
    data_init = getattr(model, "data_init", None)
    if callable(data_init):
        sample = xtr[torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))[:10000]]
        parts = [
            _prepare(
                sample[i : i + 1000],
                None,
                transform=transform,
                augment=None,
                before=False,
                gen=None,
                mean=mean,
                std=std,
                channels_last=False,
                train=False,
            )
            for i in range(0, sample.shape[0], 1000)
        ]
        data_init(torch.cat(parts))
    opt, sched = schedule.make(model, steps)
    scaler = None  # bfloat16 autocast needs no gradient scaling

    ck_path, fp, settings = None, None, {}
    if checkpoint_dir:
        settings = {
            "tag": tag,
            "data": data_digest(xtr, ytr, *((xte, yte) if test is not None else ())),
            "transform": transform_fingerprint(transform),
            "model": type(model).__name__,
            "architecture": hashlib.sha256(repr(model).encode()).hexdigest()[:16],
            "parameters": sum(p.numel() for p in model.parameters()),
            "schedule": schedule.name,
            "schedule_settings": schedule.describe,
            "epochs": schedule.epochs,
            "seed": int(seed),
            "loss": loss,
            "augment": repr(augment),
            "augment_before_transform": augment_before_transform,
            "normalization": norm_list,
            "label_smoothing": schedule.label_smoothing,
            "steps": steps,
        }
        # settings added later enter the fingerprint only where they differ from what the loop did before
        # them (bf16 on CUDA, float32 on CPU; channels_last on CUDA only; no TTA), so that the checkpoints of
        # earlier runs stay theirs
        if prec != ("bf16" if cuda else "fp32"):
            settings["precision"] = prec
        if cl != cuda:
            settings["channels_last"] = cl
        if tta is not None:
            settings["tta"] = tta
        fp = _fingerprint(settings)
        settings["fingerprint"] = fp
        ck_path = checkpoint_path(checkpoint_dir, tag, fp)
    history: list[dict] = []
    start = 0
    ck = None
    if ck_path is not None and ck_path.exists():
        try:
            ck = load_checkpoint(ck_path)
        except InputError as e:  # refused, kept beside for inspection, and this training starts afresh
            aside = ck_path.with_name(ck_path.name + ".corrupt")
            os.replace(ck_path, aside)
            note(f"{desc}: {e}; kept as {aside.name}, training from the first epoch")
    if ck is not None:
        if ck.get("fingerprint") != fp:  # a file copied by hand into another run's directory
            raise InputError(
                f"checkpoint {ck_path} holds fingerprint {ck.get('fingerprint')}, not its "
                f"directory's {fp}: remove that directory (ppstudy checkpoints clean)"
            )
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        if sched is not None and ck.get("scheduler") is not None:
            sched.load_state_dict(ck["scheduler"])
        torch.set_rng_state(ck["rng"]["torch"])
        if cuda and ck["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
        history = list(ck["history"])
        start = int(ck["epoch"])
    resumed_from = start

    train_time = 0.0
    train_images = 0
    for epoch in range(start, schedule.epochs):
        gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + epoch)
        perm = torch.randperm(n, generator=gen).to(dev)
        # the epoch's shifts and flips in one draw and one copy (batches then never wait on the host)
        if isinstance(augment, Augment):
            plan = augment.plan(n, gen, dev, epoch=epoch, seed=int(seed), order=perm)
        elif augment is not None and hasattr(augment, "plan"):
            plan = augment.plan(n, gen, dev)
        else:
            plan = None
        model.train()
        t0 = time.perf_counter()
        tot_loss = torch.zeros((), device=dev)
        tot_correct = torch.zeros((), device=dev)
        seen = 0
        for s in bar(range(steps), desc=f"{desc} {epoch + 1}/{schedule.epochs}", enabled=progress, mininterval=5.0):
            idx = perm[s * bs : (s + 1) * bs]
            draws = {k: v[s * bs : (s + 1) * bs] for k, v in plan.items()} if plan is not None else None
            xb = _prepare(
                xtr[idx],
                None,
                transform=transform,
                augment=augment,
                before=augment_before_transform,
                gen=gen,
                mean=mean,
                std=std,
                channels_last=cl,
                train=True,
                draws=draws,
            )
            yb = ytr[idx]
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=use_amp):
                out = model(xb)
                lo = lossf(out.float(), yb)
            opt.zero_grad(set_to_none=True)
            lo.backward()
            opt.step()
            if sched is not None and schedule.interval == "step":
                sched.step()
            tot_loss += lo.detach() * yb.shape[0]
            tot_correct += _correct(out.detach().float(), yb, loss)
            seen += yb.shape[0]
        if cuda:
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        train_time += dt
        train_images += seen
        lr = opt.param_groups[0]["lr"]
        if sched is not None and schedule.interval == "epoch":
            sched.step()
        rec = {
            "epoch": epoch + 1,
            "loss": float(tot_loss) / max(1, seen),
            "train_acc": float(tot_correct) / max(1, seen),
            "lr": lr,
            "seconds": dt,
            "images_per_s": seen / dt if dt > 0 else None,
        }
        if test is not None and ((epoch + 1) % max(1, int(test_every)) == 0 or epoch + 1 == schedule.epochs):
            rec["test_acc"] = evaluate(
                model,
                xte,
                yte,
                transform=transform,
                batch_size=eval_batch_size,
                device=dev,
                normalization=(mean.flatten(), std.flatten()),
                loss=loss,
                tta=tta,
                precision=prec,
                channels_last=cl,
                tta_before_transform=augment_before_transform,
            )
        history.append(rec)
        if ck_path is not None and ((epoch + 1) % max(1, int(checkpoint_every)) == 0 or epoch + 1 == schedule.epochs):
            state = {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict() if sched is not None else None,
                "scaler": scaler,
                "epoch": epoch + 1,
                "history": history,
                "fingerprint": fp,
                "rng": {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if cuda else None},
            }
            _atomic_save({**state, "digest": tensor_digest(state)}, ck_path)
            settings["epochs_done"] = epoch + 1
            _write_json(ck_path.parent / SETTINGS, settings)
        if progress:
            note(
                f"{desc} epoch {epoch + 1}/{schedule.epochs}: loss {rec['loss']:.4f} train {rec['train_acc']:.4f}"
                + (f" test {rec['test_acc']:.4f}" if "test_acc" in rec else "")
                + f" ({dt:.1f} s)"
            )
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, rec)
    # over every epoch of the history, this process's and a resumed checkpoint's alike: images / seconds,
    # so that it agrees with the mean seconds per epoch (a mean of per-epoch rates would not)
    timed = [h for h in history if h.get("images_per_s") and h.get("seconds")]
    ips = (
        sum(h["images_per_s"] * h["seconds"] for h in timed) / sum(h["seconds"] for h in timed)
        if timed
        else (train_images / train_time if train_time > 0 else math.nan)
    )
    return TrainResult(model, history, ips, train_time, resumed_from, norm_list, prec, cl)
