"""Training schedules: the papers' recipes step the learning rate where they say, and names are checked."""

from __future__ import annotations

import pytest
import torch

from ppstudy import InputError, schedules


def _lrs(s, steps_per_epoch=1):
    opt, sch = s.make(torch.nn.Linear(2, 2), steps_per_epoch)
    out = []
    for _ in range(s.epochs * (steps_per_epoch if s.interval == "step" else 1)):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    return opt, out


def test_ko2020_sequential_reading_is_675_epochs_of_four_phases():
    s = schedules.rmsprop_ko2020(decay=0.0)  # no Keras decay: the phases alone
    assert s.epochs == 675 and s.batch_size == 64 and s.describe["phase_starts"] == [250, 350, 475]
    opt, lrs = _lrs(s)
    assert isinstance(opt, torch.optim.RMSprop) and opt.param_groups[0]["weight_decay"] == 0.0
    assert lrs[0] == lrs[249] == 1e-3 and lrs[250] == lrs[349] == 5e-4
    assert lrs[350] == lrs[474] == pytest.approx(3e-4) and lrs[475] == lrs[-1] == pytest.approx(1e-4)


def test_ko2020_milestone_reading_and_scaling():
    s = schedules.rmsprop_ko2020(250, reading="milestones", decay=0.0)
    _, lrs = _lrs(s)
    assert lrs[99] == 1e-3 and lrs[100] == 5e-4 and lrs[125] == pytest.approx(3e-4) and lrs[200] == pytest.approx(1e-4)
    s = schedules.rmsprop_ko2020(27, decay=0.0)  # 675 epochs scaled down by 25
    assert s.describe["phase_starts"] == [10, 14, 19]


def test_ko2020_decay_is_keras_learning_rate_decay_not_l2():
    s = schedules.rmsprop_ko2020(2, decay=1e-2)
    opt, lrs = _lrs(s, steps_per_epoch=3)
    assert opt.param_groups[0]["weight_decay"] == 0.0
    # Keras: lr_t = lr / (1 + decay * t) per iteration, inside the first phase
    assert lrs[:2] == pytest.approx([1e-3, 1e-3 / 1.01])
    l2 = schedules.rmsprop_ko2020(2, decay=1e-6, decay_kind="l2")
    opt, _ = l2.make(torch.nn.Linear(2, 2), 1)
    assert opt.param_groups[0]["weight_decay"] == 1e-6


def test_paper_sgd_steps_at_half_and_three_quarters():
    _, lrs = _lrs(schedules.paper_sgd(8, lr=0.1))
    assert lrs == pytest.approx([0.1] * 4 + [0.01] * 2 + [0.001] * 2)


def test_one_cycle_warms_up_and_anneals():
    s = schedules.one_cycle(4, lr=0.2)
    _, lrs = _lrs(s, steps_per_epoch=10)
    assert 0.19 < max(lrs) <= 0.2 and lrs[0] == pytest.approx(0.02) and 0 < lrs[-1] < 0.01
    assert s.label_smoothing == 0.1 and s.interval == "step"


def test_bad_schedules():
    with pytest.raises(InputError, match="unknown schedule"):
        schedules.get("sgdr", 3)
    with pytest.raises(InputError, match="epochs"):
        schedules.rmsprop_ko2020(0)
    with pytest.raises(InputError, match="reading"):
        schedules.rmsprop_ko2020(reading="both")
    with pytest.raises(InputError, match="lr"):
        schedules.one_cycle(3, lr=-1)
    with pytest.raises(InputError, match="interval"):
        schedules.Schedule(name="x", epochs=1, batch_size=1, make=lambda m, s: (None, None), interval="hour")


def test_inception_constructor():
    from ppstudy.models.inception import inception_resnet_v2

    net = inception_resnet_v2(4, arch="test_resnet", min_input=40)
    assert net(torch.zeros(2, 3, 16, 16)).shape == (2, 4)
    assert net[0](torch.zeros(1, 3, 16, 16)).shape[-1] == 40
    with pytest.raises(InputError, match="architecture"):
        inception_resnet_v2(10, arch="no_such_net")


@pytest.mark.parametrize("epochs,steps", [(2, 2), (1, 1), (1, 3), (3, 2)])
def test_one_cycle_on_very_short_runs(epochs, steps):
    """A one-cycle schedule of a handful of steps (a toy run) must not divide by a zero-length phase."""
    s = schedules.one_cycle(epochs, lr=0.2)
    opt, sch = s.make(torch.nn.Linear(2, 2), steps)
    for _ in range(epochs * steps):
        opt.step()
        if sch is not None:
            sch.step()
    lrs = [g["lr"] for g in opt.param_groups]
    if epochs * steps < 4:
        assert sch is None and lrs == [0.2, 0.2]  # a constant learning rate for a toy run
    else:
        assert sch is not None and all(0 < v < 0.2 for v in lrs)  # annealed below the peak by the end
