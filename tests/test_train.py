"""The training loop: deterministic on CPU, exact resume after an interruption, atomic checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ppstudy import InputError, train
from ppstudy.models import AdaptationNetwork, resnet18_cifar, with_adaptation


def _data(n=48, c=3, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.integers(0, 256, (n, 16, 16, c)).astype(np.uint8)
    x[..., 0] = np.clip(x[..., 0] // 2 + y[:, None, None] * 60, 0, 255).astype(np.uint8)  # learnable signal
    return x, y


def _model(c=3, classes=3):
    torch.manual_seed(0)
    return with_adaptation(AdaptationNetwork(in_channels=c), resnet18_cifar(classes, width=8))


def _invert(x):
    return 255 - x


def _fit(tmp=None, **kw):
    x, y = _data()
    kw.setdefault("schedule", train.paper_schedule(epochs=3, batch_size=16, lr=0.05))
    return train.fit(_model(), (x, y), (x[:16], y[:16]), seed=3, device="cpu", progress=False,
                     checkpoint_dir=tmp, transform=_invert, **kw)


def _state(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def test_deterministic_on_cpu():
    a, b = _fit(), _fit()
    for (k, v), w in zip(_state(a.model).items(), _state(b.model).values()):
        assert torch.equal(v, w), k
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert a.images_per_s > 0 and 0 <= a.test_acc <= 1


class _Kill(Exception):
    pass


@pytest.mark.parametrize("schedule", [train.paper_schedule(epochs=3, batch_size=16, lr=0.05),
                                      train.fast_schedule(epochs=3, batch_size=16)])
def test_resume_after_interruption_is_bit_identical(tmp_path, schedule):
    full = _fit(tmp_path / "full", schedule=schedule)

    def kill(epoch, rec):
        if epoch == 1:
            raise _Kill

    with pytest.raises(_Kill):
        _fit(tmp_path / "part", schedule=schedule, on_epoch_end=kill)
    ck = train.load_checkpoint(tmp_path / "part" / train.CHECKPOINT)
    assert ck["epoch"] == 1
    resumed = _fit(tmp_path / "part", schedule=schedule)
    assert resumed.resumed_from == 1
    for (k, v), w in zip(_state(full.model).items(), _state(resumed.model).values()):
        assert torch.equal(v, w), k
    assert [h["loss"] for h in full.history] == [h["loss"] for h in resumed.history]
    # a finished run resumes to nothing and returns the same history
    again = _fit(tmp_path / "part", schedule=schedule)
    assert again.resumed_from == 3 and len(again.history) == 3


def test_checkpoint_written_atomically(tmp_path, monkeypatch):
    _fit(tmp_path, schedule=train.paper_schedule(epochs=1, batch_size=16))
    path = tmp_path / train.CHECKPOINT
    good = path.read_bytes()
    assert not list(tmp_path.glob("*.tmp"))

    def boom(obj, f, *a, **k):
        open(f, "wb").write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        train._atomic_save({"model": {}, "epoch": 9}, path)
    assert path.read_bytes() == good  # the old checkpoint survives a crash mid-write


def test_corrupt_or_foreign_checkpoint(tmp_path):
    (tmp_path / train.CHECKPOINT).write_bytes(b"garbage")
    with pytest.raises(InputError, match="corrupt"):
        _fit(tmp_path)
    (tmp_path / train.CHECKPOINT).unlink()
    _fit(tmp_path, schedule=train.paper_schedule(epochs=1, batch_size=16))
    with pytest.raises(InputError, match="other settings"):
        _fit(tmp_path, schedule=train.paper_schedule(epochs=2, batch_size=16))


def test_augment_shift_and_flip():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.uint8).reshape(2, 1, 4, 4)
    g = torch.Generator().manual_seed(0)
    out = train.Augment(pad=0, flip=True)(x, g)
    for i in range(2):
        assert torch.equal(out[i], x[i]) or torch.equal(out[i], x[i].flip(2))
    out = train.Augment(pad=1, flip=False)(x, torch.Generator().manual_seed(1))
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    for i in range(2):  # every output is a 4x4 window of the zero-padded input
        wins = [padded[i, :, a:a + 4, b:b + 4] for a in range(3) for b in range(3)]
        assert any(torch.equal(out[i], w) for w in wins)


def test_six_channel_pairs_and_binary_loss():
    x, _ = _data(n=32, c=6)
    y = np.arange(32) % 2
    torch.manual_seed(0)
    m = resnet18_cifar(1, in_channels=6, width=8)
    res = train.fit(m, (x, y), (x, y), schedule=train.fast_schedule(epochs=1, batch_size=16), loss="bce",
                    device="cpu", progress=False)
    assert len(res.history) == 1 and 0 <= res.test_acc <= 1


def test_bad_inputs():
    x, y = _data()
    s = train.paper_schedule(epochs=1, batch_size=16)
    with pytest.raises(InputError, match="uint8"):
        train.fit(_model(), (x.astype(np.float32), y), schedule=s, progress=False, device="cpu")
    with pytest.raises(InputError, match="labels"):
        train.fit(_model(), (x, y[:-1]), schedule=s, progress=False, device="cpu")
    with pytest.raises(InputError, match="loss"):
        train.fit(_model(), (x, y), schedule=s, loss="hinge", progress=False, device="cpu")
    with pytest.raises(InputError, match="epochs"):
        train.paper_schedule(epochs=0)
