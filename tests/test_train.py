"""The training loop: deterministic on CPU, exact resume after an interruption, atomic checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ppstudy import InputError, schedules, train
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


_invert.fingerprint = "invert-v1"  # a transform used with checkpoints names itself


def _fit(tmp=None, **kw):
    x, y = _data()
    kw.setdefault("schedule", schedules.paper_sgd(epochs=3, batch_size=16, lr=0.05))
    return train.fit(
        _model(),
        (x, y),
        (x[:16], y[:16]),
        seed=3,
        device="cpu",
        progress=False,
        checkpoint_dir=tmp,
        transform=_invert,
        **kw,
    )


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


@pytest.mark.parametrize(
    "schedule", [schedules.paper_sgd(epochs=3, batch_size=16, lr=0.05), schedules.one_cycle(epochs=3, batch_size=16)]
)
def test_resume_after_interruption_is_bit_identical(tmp_path, schedule):
    full = _fit(tmp_path / "full", schedule=schedule)

    def kill(epoch, rec):
        if epoch == 1:
            raise _Kill

    with pytest.raises(_Kill):
        _fit(tmp_path / "part", schedule=schedule, on_epoch_end=kill)
    (path,) = (tmp_path / "part").glob(f"*/{train.CHECKPOINT}")
    ck = train.load_checkpoint(path)
    assert ck["epoch"] == 1
    resumed = _fit(tmp_path / "part", schedule=schedule)
    assert resumed.resumed_from == 1
    for (k, v), w in zip(_state(full.model).items(), _state(resumed.model).values()):
        assert torch.equal(v, w), k
    assert [h["loss"] for h in full.history] == [h["loss"] for h in resumed.history]
    # a finished run resumes to nothing and returns the same history
    again = _fit(tmp_path / "part", schedule=schedule)
    assert again.resumed_from == 3 and len(again.history) == 3
    # the seconds a rerun from scratch would add: the resumed epochs' (the first, by the killed process)
    assert resumed.resumed_seconds == pytest.approx(resumed.history[0]["seconds"]) and resumed.resumed_seconds > 0
    assert again.resumed_seconds == pytest.approx(sum(h["seconds"] for h in again.history))
    assert full.resumed_seconds == 0.0 and again.train_seconds == 0.0
    # throughput covers every epoch of the history (also those of the interrupted process): it agrees with
    # the mean seconds per epoch, whichever process trained them
    for r in (resumed, again):
        per_epoch = [h["images_per_s"] * h["seconds"] for h in r.history]
        assert np.allclose(per_epoch, per_epoch[0])
        assert r.images_per_s == pytest.approx(per_epoch[0] / np.mean([h["seconds"] for h in r.history]))


def _only_checkpoint(d):
    paths = list(d.glob(f"*/{train.CHECKPOINT}"))
    assert len(paths) == 1, paths
    return paths[0]


def test_checkpoint_written_atomically(tmp_path, monkeypatch):
    _fit(tmp_path, schedule=schedules.paper_sgd(epochs=1, batch_size=16))
    path = _only_checkpoint(tmp_path)
    good = path.read_bytes()
    assert not list(tmp_path.rglob("*.tmp"))

    def boom(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        train._atomic_save({"model": {}, "epoch": 9}, path)
    assert path.read_bytes() == good  # the old checkpoint survives a crash mid-write


@pytest.mark.parametrize("damage", ["garbage", "one weight"])
def test_a_corrupt_checkpoint_is_refused_kept_aside_and_the_training_restarts(tmp_path, damage):
    sched = schedules.paper_sgd(epochs=2, batch_size=16, lr=0.05)
    fresh = _fit(None, schedule=sched)

    def kill(epoch, rec):
        raise _Kill

    with pytest.raises(_Kill):
        _fit(tmp_path, schedule=sched, on_epoch_end=kill)  # one epoch done and checkpointed
    path = _only_checkpoint(tmp_path)
    if damage == "garbage":
        path.write_bytes(b"garbage")
    else:  # still a valid file: one weight changed, the digest written with the good weights kept
        ck = torch.load(path, weights_only=True)
        name = next(k for k, v in ck["model"].items() if v.dtype.is_floating_point)
        ck["model"][name].view(-1)[0] += 1.0
        torch.save(ck, path)
        with pytest.raises(InputError, match="digest"):
            train.load_checkpoint(path)
    bad = path.read_bytes()
    res = _fit(tmp_path, schedule=sched)
    assert res.resumed_from == 0  # trained afresh, not resumed from the damaged state
    for (k, v), w in zip(_state(fresh.model).items(), _state(res.model).values()):
        assert torch.equal(v, w), k
    assert path.with_name(path.name + ".corrupt").read_bytes() == bad  # kept for inspection
    assert train.load_checkpoint(path)["epoch"] == 2  # and a good checkpoint written in its place


def test_checkpoint_digest_covers_every_tensor_and_value():
    state = {"model": {"w": torch.ones(3), "b": torch.zeros(2, dtype=torch.bfloat16)}, "epoch": 1, "h": [0.5]}
    d = train.tensor_digest(state)
    assert train.tensor_digest({**state}) == d
    for changed in (
        {**state, "model": {"w": torch.tensor([1.0, 1.0, 1.0 + 2**-20]), "b": state["model"]["b"]}},
        {**state, "model": {"w": torch.ones(3), "b": torch.zeros(2)}},  # dtype
        {**state, "model": {"w": torch.ones(1, 3), "b": state["model"]["b"]}},  # shape
        {**state, "epoch": 2},
        {**state, "h": [0.25]},
    ):
        assert train.tensor_digest(changed) != d


def test_checkpoints_load_weights_only(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (exec, ("raise SystemExit('code ran from a checkpoint')",))

    path = tmp_path / "x" / train.CHECKPOINT
    path.parent.mkdir()
    torch.save({"model": {}, "epoch": 1, "evil": Evil()}, path, pickle_module=pickle)
    with pytest.raises(InputError, match="corrupt"):
        train.load_checkpoint(path)


def test_changed_settings_key_or_data_train_afresh(tmp_path):
    """A checkpoint is keyed by everything that determines it: another schedule, another key (the
    transform's fingerprint) or other data never resume a foreign run, they get their own directory."""
    s1 = schedules.paper_sgd(epochs=1, batch_size=16)
    base = _fit(tmp_path, schedule=s1)
    assert base.resumed_from == 0
    assert _fit(tmp_path, schedule=s1).resumed_from == 1  # same settings: resumed (nothing left to do)
    other = _fit(tmp_path, schedule=schedules.paper_sgd(epochs=2, batch_size=16))
    assert other.resumed_from == 0

    def flip(x):
        return x ^ 1

    flip.fingerprint = "other-key"
    x, y = _data()
    fresh_key = train.fit(
        _model(),
        (x, y),
        (x[:16], y[:16]),
        seed=3,
        device="cpu",
        progress=False,
        checkpoint_dir=tmp_path,
        transform=flip,
        schedule=s1,
    )
    assert fresh_key.resumed_from == 0
    x2 = x.copy()
    x2[0, 0, 0, 0] ^= 1  # one bit of the training data changed
    fresh_data = train.fit(
        _model(),
        (x2, y),
        (x[:16], y[:16]),
        seed=3,
        device="cpu",
        progress=False,
        checkpoint_dir=tmp_path,
        transform=_invert,
        schedule=s1,
    )
    assert fresh_data.resumed_from == 0
    listed = train.list_checkpoints(tmp_path)
    assert len(listed) == 4 and {r["epochs_done"] for r in listed} == {1, 2}
    assert len({r["fingerprint"] for r in listed}) == 4


def test_transform_without_fingerprint_cannot_checkpoint(tmp_path):
    x, y = _data()
    with pytest.raises(InputError, match="fingerprint"):
        train.fit(
            _model(),
            (x, y),
            schedule=schedules.paper_sgd(epochs=1, batch_size=16),
            device="cpu",
            progress=False,
            checkpoint_dir=tmp_path,
            transform=lambda t: t,
        )


def test_evaluate_needs_the_training_normalization():
    x, y = _data()
    res = _fit(schedule=schedules.paper_sgd(epochs=1, batch_size=16))
    with pytest.raises(InputError, match="normalization"):
        train.evaluate(res.model, x, y, transform=_invert, device="cpu")
    acc = train.evaluate(res.model, x[:16], y[:16], transform=_invert, device="cpu", normalization=res.normalization)
    assert acc == pytest.approx(res.history[-1]["test_acc"])


def test_augment_shift_and_flip():
    x = torch.arange(64 * 1 * 4 * 4, dtype=torch.uint8).reshape(64, 1, 4, 4)
    out = train.Augment(pad=0, flip=True)(x, torch.Generator().manual_seed(0))
    flipped = [bool(torch.equal(out[i], x[i].flip(2))) for i in range(64)]
    kept = [bool(torch.equal(out[i], x[i])) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept))  # each image is itself or its mirror
    assert 16 <= sum(flipped) <= 48  # about half are mirrored (an augmenter that never flips fails here)
    out = train.Augment(pad=1, flip=False)(x, torch.Generator().manual_seed(1))
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    offsets = set()
    for i in range(64):  # every output is a 4x4 window of the zero-padded input
        hits = [(a, b) for a in range(3) for b in range(3) if torch.equal(out[i], padded[i, :, a : a + 4, b : b + 4])]
        assert hits
        offsets.add(hits[0])
    assert len(offsets) >= 5  # the windows are drawn, not always the centre one


def test_six_channel_pairs_and_binary_loss():
    # label 1 when the first image of the pair (channels 0-2) is brighter than the second (channels 3-5)
    rng = np.random.default_rng(0)
    n = 256
    a = rng.integers(0, 3, n)
    b = (a + 1 + rng.integers(0, 2, n)) % 3
    y = (a > b).astype(np.int64)
    x = rng.integers(0, 100, (n, 8, 8, 6)).astype(np.uint8)
    x[..., :3] += (a * 70)[:, None, None, None].astype(np.uint8)
    x[..., 3:] += (b * 70)[:, None, None, None].astype(np.uint8)
    torch.manual_seed(0)
    m = torch.nn.Sequential(
        torch.nn.Conv2d(6, 8, 3),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 1),
    )
    res = train.fit(
        m,
        (x[:192], y[:192]),
        (x[192:], y[192:]),
        schedule=schedules.one_cycle(epochs=6, batch_size=32, lr=0.05),
        loss="bce",
        device="cpu",
        progress=False,
    )
    assert len(res.history) == 6 and res.test_acc >= 0.9  # one logit learns the pair rule (chance about 0.5)


class _ConstantLogit(torch.nn.Module):
    def __init__(self, value: float):
        super().__init__()
        self.value = value
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return torch.full((x.shape[0], 1), self.value) + 0 * self.dummy


@pytest.mark.parametrize(("logit", "expected"), [(2.0, 0.25), (-2.0, 0.75)])
def test_binary_accuracy_is_the_sign_of_the_logit(logit, expected):
    x = np.zeros((8, 4, 4, 6), np.uint8)
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0])  # a quarter "same"
    acc = train.evaluate(_ConstantLogit(logit), x, y, loss="bce", device="cpu", normalization=([0.0] * 6, [1.0] * 6))
    assert acc == pytest.approx(expected)


def test_bad_inputs():
    x, y = _data()
    s = schedules.paper_sgd(epochs=1, batch_size=16)
    with pytest.raises(InputError, match="uint8"):
        train.fit(_model(), (x.astype(np.float32), y), schedule=s, progress=False, device="cpu")
    with pytest.raises(InputError, match="labels"):
        train.fit(_model(), (x, y[:-1]), schedule=s, progress=False, device="cpu")
    with pytest.raises(InputError, match="loss"):
        train.fit(_model(), (x, y), schedule=s, loss="hinge", progress=False, device="cpu")
    with pytest.raises(InputError, match="epochs"):
        schedules.paper_sgd(epochs=0)
    with pytest.raises(InputError, match="unknown schedule"):
        schedules.get("adam-ish", 3)


def test_augment_rotation_is_a_rotation():
    x = torch.zeros(3, 1, 9, 9, dtype=torch.uint8)
    x[:, :, 4, 4:] = 200  # a ray from the centre to the right edge
    aug = train.Augment(pad=0, flip=False, rotate=90.0)
    draws = {"angle": torch.tensor([0.0, 90.0, -90.0])}
    out = aug.apply(x, draws)
    assert torch.equal(out[0], x[0])  # no rotation: unchanged
    assert torch.equal(out[1], torch.rot90(x[1], 1, dims=(1, 2))) or torch.equal(
        out[1], torch.rot90(x[1], -1, dims=(1, 2))
    )
    assert torch.equal(out[2], torch.rot90(out[1], 2, dims=(1, 2)))  # +90 and -90 are half a turn apart
    assert set(out.unique().tolist()) <= {0, 200}  # nearest-pixel resampling keeps the values
    plan = aug.plan(5, torch.Generator().manual_seed(0), "cpu")
    assert plan["angle"].abs().max() <= 90.0 and plan["angle"].std() > 0


# --------------------------------------------------------------------------- the CPU recipe
def _recipe_augment():
    return train.Augment(pad=2, flip=True, padding_mode="reflect", alternate_flip=True)


def test_recipe_learns_a_toy_set_well_above_chance():
    from ppstudy.data import cifar10
    from ppstudy.models import fastnet_cifar

    xtr, ytr, xte, yte, names = cifar10.smoke_dataset(40, 15, seed=0)
    torch.manual_seed(0)
    res = train.fit(
        fastnet_cifar(len(names), widths=(32, 64, 64)),
        (xtr, ytr),
        (xte, yte),
        schedule=schedules.triangle_sgd(2, batch_size=32),
        augment=_recipe_augment(),
        tta="flip-translate",
        progress=False,
    )
    chance = 1 / len(names)
    assert res.precision in ("fp32", "bf16")
    assert res.test_acc >= 3 * chance, (res.test_acc, chance)


def test_fastnet_whitening_makes_patches_white():
    from ppstudy.models import fastnet_cifar

    g = torch.Generator().manual_seed(0)
    mix = torch.tensor([[1.0, 0.5, 0.2], [0.0, 1.0, 0.7], [0.0, 0.0, 1.0]])
    x = torch.einsum("dc,nchw->ndhw", mix, torch.randn(64, 3, 16, 16, generator=g))
    x = x + 0.8 * torch.roll(x, 1, dims=3)  # correlated neighbours too
    net = fastnet_cifar()
    net.data_init(x, eps=0.0)
    out = torch.nn.functional.conv2d(x.double(), net.whiten.weight.double()[:12])  # the 12 unnegated filters
    flat = out.permute(0, 2, 3, 1).reshape(-1, 12)
    cov = torch.cov(flat.T)
    assert torch.allclose(cov, torch.eye(12, dtype=cov.dtype), atol=1e-6), cov.diagonal()
    assert torch.equal(net.whiten.weight[12:], -net.whiten.weight[:12])
    assert not net.whiten.weight.requires_grad and net.whiten.bias.requires_grad


def test_alternating_flip_flips_each_image_in_every_other_epoch():
    aug = _recipe_augment()
    n = 200
    order0, order1 = torch.randperm(n), torch.randperm(n)
    f0 = aug.plan(n, torch.Generator().manual_seed(1), "cpu", epoch=0, seed=3, order=order0)["flip"]
    f1 = aug.plan(n, torch.Generator().manual_seed(2), "cpu", epoch=1, seed=3, order=order1)["flip"]
    by_image0 = torch.empty(n, dtype=torch.bool)
    by_image0[order0] = f0
    by_image1 = torch.empty(n, dtype=torch.bool)
    by_image1[order1] = f1
    assert torch.equal(by_image0, ~by_image1)  # every image mirrored in exactly one of two epochs
    assert 60 < int(by_image0.sum()) < 140


def test_reflect_shift_equals_numpy_reflect_pad():
    aug = train.Augment(pad=2, flip=False, padding_mode="reflect")
    x = torch.randint(0, 256, (3, 2, 8, 8), dtype=torch.uint8)
    draws = {"dy": torch.tensor([0, 2, 4]), "dx": torch.tensor([4, 1, 0])}
    out = aug.apply(x, draws)
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (2, 2), (2, 2)), mode="reflect")
    for i in range(3):
        dy, dx = int(draws["dy"][i]), int(draws["dx"][i])
        assert np.array_equal(out[i].numpy(), xp[i, :, dy : dy + 8, dx : dx + 8])
    assert out.dtype == torch.uint8


def test_augment_repr_of_the_first_version_is_unchanged():
    # it enters checkpoint fingerprints: earlier runs' checkpoints must keep theirs
    assert repr(train.Augment(pad=4, flip=True)) == "Augment(pad=4, flip=True, rotate=0.0)"
    assert "reflect" in repr(train.Augment(padding_mode="reflect"))
    with pytest.raises(InputError):
        train.Augment(padding_mode="wrap")
    with pytest.raises(InputError):
        train.Augment(flip="no")


def test_tta_averages_the_variants():
    class LeftMass(torch.nn.Module):  # not mirror-symmetric: the mass of the left half
        def forward(self, x):
            return x[..., : x.shape[-1] // 2].sum((1, 2, 3))[:, None].repeat(1, 2)

    x = torch.rand(4, 3, 6, 6)
    m = LeftMass()
    assert torch.allclose(train._tta_logits(m, x, None), m(x))
    assert torch.allclose(train._tta_logits(m, x, "flip"), (m(x) + m(x.flip(3))) / 2)
    p = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    shifted = [p[:, :, :6, :6], p[:, :, 2:, 2:]]
    want = 0.25 * (m(x) + m(x.flip(3))) + 0.125 * sum(m(s) + m(s.flip(3)) for s in shifted)
    assert torch.allclose(train._tta_logits(m, x, "flip-translate"), want)


def test_precision_follows_the_cpu(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(train, "cpu_bf16_capable", lambda: True)
    assert train.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(train, "cpu_bf16_capable", lambda: False)
    assert train.resolve_precision("auto", cpu) == "fp32"
    assert train.resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(InputError):
        train.resolve_precision("fp16", cpu)


def test_triangle_schedule_steps_and_groups():
    from ppstudy.models import fastnet_cifar

    model = fastnet_cifar(widths=(8, 16, 16))
    sch = schedules.triangle_sgd(2, batch_size=100, lr=10.0, momentum=0.85, weight_decay=0.015, bias_scaler=64.0)
    opt, lrs = sch.make(model, 50)  # 100 steps in all, peak at step 20
    base = 10.0 / (1024 * (1 + 1 / 0.15)) * 100
    other, norm = opt.param_groups
    assert other["lr"] == pytest.approx(0.2 * base) and norm["lr"] == pytest.approx(0.2 * base * 64)
    # the decay per step at the peak is the same fraction of the weights in both groups
    assert other["weight_decay"] * base == pytest.approx(norm["weight_decay"] * base * 64)
    assert all(p.ndim == 1 for p in norm["params"])  # the batch-norm biases (their scale is frozen)
    seen = []
    for _ in range(100):
        seen.append(opt.param_groups[0]["lr"] / base)
        opt.step()
        lrs.step()
    assert seen[20] == pytest.approx(1.0) and seen[0] == pytest.approx(0.2)
    assert seen[60] == pytest.approx(0.5) and opt.param_groups[0]["lr"] == pytest.approx(0.0)


def test_layout_is_measured_on_copies_and_followed_by_fit(monkeypatch):
    from ppstudy.data import cifar10
    from ppstudy.models import fastnet_cifar

    net = fastnet_cifar(10, widths=(8, 16, 16))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    faster = train.channels_last_faster(net, torch.randn(16, 3, 32, 32), bf16=False, passes=1)
    assert isinstance(faster, bool)
    # the probe trains copies: the model keeps its weights, batch-norm statistics, gradients and layout
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())
    assert all(p.is_contiguous() for p in net.parameters())
    xtr, ytr, xte, yte, names = cifar10.smoke_dataset(10, 5, seed=0)
    kw = dict(schedule=schedules.triangle_sgd(1, batch_size=32), progress=False, channels_last="auto")
    for answer in (True, False):
        monkeypatch.setattr(train, "channels_last_faster", lambda *a, answer=answer, **k: answer)
        res = train.fit(fastnet_cifar(len(names), widths=(8, 16, 16)), (xtr, ytr), (xte, yte), **kw)
        assert res.channels_last is answer
        w = res.model.groups[1].conv1.weight  # 16 x 8 x 3 x 3: the two layouts differ
        assert w.is_contiguous(memory_format=torch.channels_last) is answer
    with pytest.raises(InputError):
        train.fit(fastnet_cifar(len(names)), (xtr, ytr), **{**kw, "channels_last": "yes"})
