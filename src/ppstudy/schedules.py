"""Training schedules: how to optimise, in one place for every chapter.

A :class:`Schedule` is a recipe that builds the optimizer and the learning-rate scheduler for a model and
says whether the scheduler steps per epoch or per batch. The recipes of the book:

* :func:`paper_sgd` -- Sirichotedumrong et al.'s (pixel chapter): SGD momentum 0.9, lr 0.1 divided by 10
  at 50% and 75% of the epochs (150 and 225 of 300), weight decay 5e-4, batch 128;
* :func:`one_cycle` -- a short modern recipe: one-cycle SGD (Nesterov) with label smoothing;
* :func:`rmsprop_ko2020` -- Ko et al.'s RMSprop (de-identification chapter), with the reading of its
  ambiguous learning-rate sentence made explicit;
* :func:`adamw_one_cycle` -- AdamW with a one-cycle learning rate (Big Data Cup chapter: the paper names
  no optimiser);
* :func:`triangle_sgd` -- the CPU recipe's schedule (with :func:`ppstudy.models.fastnet_cifar`).

:func:`get` looks a schedule up by name and refuses unknown names (never a silent fallback).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ppstudy import InputError, validate

Maker = Callable[[Any, int], tuple[Any, Any]]


def _check_pos_int(name: str, v) -> int:
    return validate.positive_int(name, v)


def _check_pos(name: str, v) -> float:
    return validate.number(name, v, low=0, low_open=True)


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """How to optimise: ``make(model, steps_per_epoch) -> (optimizer, scheduler or None)``.

    ``interval`` is ``"epoch"`` (scheduler.step() after every epoch) or ``"step"`` (after every batch).
    ``describe`` holds every hyper-parameter (it goes into checkpoint fingerprints and manifests).
    """

    name: str
    epochs: int
    batch_size: int
    make: Maker = field(repr=False, compare=False)
    interval: str = "epoch"
    label_smoothing: float = 0.0
    describe: dict = field(default_factory=dict)

    def __post_init__(self):
        _check_pos_int("epochs", self.epochs)
        _check_pos_int("batch_size", self.batch_size)
        if self.interval not in ("epoch", "step"):
            raise InputError(f"schedule interval must be 'epoch' or 'step', got {self.interval!r}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise InputError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")


def no_decay_groups(model, weight_decay: float) -> list[dict]:
    """Parameter groups with weight decay on weights only (none on biases and normalisation parameters)."""
    decay: list[Any] = []
    no_decay: list[Any] = []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def paper_sgd(
    epochs: int = 300,
    *,
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    batch_size: int = 128,
    milestones: tuple[float, ...] = (0.5, 0.75),
    gamma: float = 0.1,
) -> Schedule:
    """The pixel paper's recipe: SGD(momentum 0.9, wd 5e-4), lr 0.1 divided by 10 at 50% and 75% of the
    epochs (150 and 225 of 300), batch 128."""
    import torch

    epochs = _check_pos_int("epochs", epochs)
    lr = _check_pos("lr", lr)
    ms = sorted({max(1, round(m * epochs)) for m in milestones})

    def make(model, steps_per_epoch):
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
        return opt, torch.optim.lr_scheduler.MultiStepLR(opt, milestones=ms, gamma=gamma)

    return Schedule(
        name="paper",
        epochs=epochs,
        batch_size=batch_size,
        make=make,
        interval="epoch",
        describe=dict(
            optimizer="SGD",
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            milestones=ms,
            gamma=gamma,
            batch_size=batch_size,
            epochs=epochs,
        ),
    )


def one_cycle(
    epochs: int = 30,
    *,
    lr: float = 0.2,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    batch_size: int = 256,
    label_smoothing: float = 0.1,
    pct_start: float = 0.25,
    nesterov: bool = True,
) -> Schedule:
    """A short recipe: one-cycle learning rate (linear warm-up to ``lr``, linear anneal to ~0), SGD with
    Nesterov momentum, no weight decay on BN/bias, label smoothing."""
    import torch

    epochs = _check_pos_int("epochs", epochs)
    lr = _check_pos("lr", lr)

    def make(model, steps_per_epoch):
        opt = torch.optim.SGD(no_decay_groups(model, weight_decay), lr=lr, momentum=momentum, nesterov=nesterov)
        total = epochs * steps_per_epoch
        if total < 4:  # too short for a warm-up and an anneal: OneCycleLR divides by its phase lengths
            return opt, None
        pct = min(max(pct_start, 2.0 / total), 1.0 - 2.0 / total)
        # total + 1: the training loop steps the scheduler after every batch, the last one included
        sch = torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=lr,
            total_steps=total + 1,
            pct_start=pct,
            anneal_strategy="linear",
            div_factor=10.0,
            final_div_factor=100.0,
        )
        return opt, sch

    return Schedule(
        name="fast",
        epochs=epochs,
        batch_size=batch_size,
        make=make,
        interval="step",
        label_smoothing=label_smoothing,
        describe=dict(
            optimizer="SGD-nesterov" if nesterov else "SGD",
            max_lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            one_cycle_pct_start=pct_start,
            label_smoothing=label_smoothing,
            batch_size=batch_size,
            epochs=epochs,
        ),
    )


#: Ko et al.'s sentence: "the learning rate was initially set to 0.001 for 250 epochs. Also, the learning
#: rate was set to 0.0005 for 100 epochs, 0.0003 for 125 epoches and 0.0001 for 200 epochs."
KO2020_LRS = (1e-3, 5e-4, 3e-4, 1e-4)
KO2020_EPOCHS = (250, 100, 125, 200)
#: "We used a weight decay of 1e-6": in Keras (the paper's framework) RMSprop(decay=1e-6) is an
#: inverse-time learning-rate decay per iteration, lr / (1 + decay * iterations), not an L2 penalty
KO2020_DECAY = 1e-6


def rmsprop_ko2020(
    epochs: int | None = None,
    *,
    batch_size: int = 64,
    reading: str = "sequential",
    decay: float = KO2020_DECAY,
    decay_kind: str = "keras-lr",
    lrs=KO2020_LRS,
    phases=KO2020_EPOCHS,
) -> Schedule:
    """Ko et al.'s RMSprop recipe. The paper's learning-rate sentence is ambiguous; ``reading`` chooses:

    * ``"sequential"`` (default; our reading): four phases one after the other, 250 + 100 + 125 + 200 =
      675 epochs at lr 1e-3, 5e-4, 3e-4, 1e-4;
    * ``"milestones"``: 250 epochs in all, the lr dropping at epochs 100, 125 and 200.

    ``epochs`` (default: the reading's total) rescales the phases proportionally. ``decay_kind``:
    ``"keras-lr"`` (default; Keras' meaning of ``decay``) multiplies the lr by ``1 / (1 + decay * step)``
    per batch; ``"l2"`` uses ``decay`` as an L2 weight decay instead. RMSprop with Keras' defaults
    (rho 0.9, eps 1e-7).
    """
    import torch

    if reading not in ("sequential", "milestones"):
        raise InputError(f"rmsprop_ko2020: reading must be 'sequential' or 'milestones', got {reading!r}")
    if decay_kind not in ("keras-lr", "l2"):
        raise InputError(f"rmsprop_ko2020: decay_kind must be 'keras-lr' or 'l2', got {decay_kind!r}")
    if len(lrs) != len(phases):
        raise InputError("rmsprop_ko2020: need one learning rate per phase")
    if reading == "sequential":
        ends = np.cumsum(phases)  # phase k runs until epoch ends[k]
    else:
        ends = np.array([100, 125, 200, 250])
    total = int(ends[-1])
    epochs = total if epochs is None else _check_pos_int("epochs", epochs)
    bounds = [max(1, round(e * epochs / total)) for e in ends[:-1]]  # first epoch of phases 2, 3, 4
    base = float(lrs[0])
    rate = float(decay) if decay_kind == "keras-lr" else 0.0

    def make(model, steps_per_epoch):
        def factor(step: int) -> float:
            k = sum(step >= b * steps_per_epoch for b in bounds)
            return float(lrs[k]) / base / (1.0 + rate * step)

        opt = torch.optim.RMSprop(
            model.parameters(), lr=base, alpha=0.9, eps=1e-7, weight_decay=float(decay) if decay_kind == "l2" else 0.0
        )
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)

    return Schedule(
        name="rmsprop-ko2020",
        epochs=epochs,
        batch_size=batch_size,
        make=make,
        interval="step",
        describe=dict(
            optimizer="RMSprop",
            reading=reading,
            lrs=list(lrs),
            phase_starts=bounds,
            decay=decay,
            decay_kind=decay_kind,
            batch_size=batch_size,
            epochs=epochs,
        ),
    )


def adamw_one_cycle(epochs: int, *, lr: float = 2e-3, batch_size: int = 32, weight_decay: float = 1e-4) -> Schedule:
    """AdamW with a one-cycle learning rate (the Big Data Cup paper does not name its optimiser)."""
    import torch

    epochs = _check_pos_int("epochs", epochs)
    lr = _check_pos("lr", lr)

    def make(model, steps):
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        return opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(1, steps * epochs))

    return Schedule(
        name="adamw-onecycle",
        epochs=epochs,
        batch_size=batch_size,
        make=make,
        interval="step",
        describe=dict(optimizer="AdamW", lr=lr, weight_decay=weight_decay, batch_size=batch_size, epochs=epochs),
    )


def triangle_sgd(
    epochs: int = 10,
    *,
    lr: float = 10.0,
    momentum: float = 0.85,
    weight_decay: float = 0.015,
    batch_size: int = 1000,
    label_smoothing: float = 0.2,
    bias_scaler: float = 64.0,
    start: float = 0.2,
    peak: float = 0.2,
) -> Schedule:
    """The CPU recipe's schedule (with :func:`ppstudy.models.fastnet_cifar`): Nesterov SGD whose learning
    rate rises linearly from ``start`` x to 1 x at ``peak`` of the steps and falls linearly to 0.

    Hyper-parameters are in the decoupled form of the fast CIFAR-10 recipes (airbench): ``lr`` is the step
    per 1,024 examples and is divided by the momentum's gain ``1 + 1 / (1 - momentum)``; ``weight_decay`` is
    the decay per 1,024 examples, independent of ``lr``; batch-norm parameters get ``bias_scaler`` x the
    learning rate (not more decay). The loss is the batch mean (the training loop's), so the step size is
    multiplied by the batch size to equal those recipes' summed loss.
    """
    import torch

    epochs = _check_pos_int("epochs", epochs)
    batch_size = _check_pos_int("batch_size", batch_size)
    lr = _check_pos("lr", lr)
    bias_scaler = _check_pos("bias_scaler", bias_scaler)
    if not 0.0 <= float(momentum) < 1.0:
        raise InputError(f"momentum must be in [0, 1), got {momentum!r}")
    if not 0.0 < float(peak) < 1.0 or not 0.0 <= float(start) <= 1.0:
        raise InputError(f"peak must be in (0, 1) and start in [0, 1], got {peak!r}, {start!r}")
    gain = 1024 * (1 + 1 / (1 - momentum))
    base = lr / gain * batch_size  # per-step lr on the batch-mean loss
    decay = float(weight_decay) * batch_size / gain  # fraction of the weights decayed per step at lr 1 x

    def make(model, steps_per_epoch):
        norm = [
            p
            for m in model.modules()
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
            for p in m.parameters(recurse=False)
            if p.requires_grad
        ]
        ids = {id(p) for p in norm}
        other = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
        groups = [dict(params=other, lr=base, weight_decay=decay / base)]
        if norm:
            groups.append(dict(params=norm, lr=base * bias_scaler, weight_decay=decay / (base * bias_scaler)))
        opt = torch.optim.SGD(groups, momentum=momentum, nesterov=True)
        total = max(1, epochs * steps_per_epoch)
        top = max(1, int(peak * total))

        def factor(step: int) -> float:
            if step < top:
                return start + (1.0 - start) * step / top
            return max(0.0, (total - step) / max(1, total - top))

        return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)

    return Schedule(
        name="triangle",
        epochs=epochs,
        batch_size=batch_size,
        make=make,
        interval="step",
        label_smoothing=label_smoothing,
        describe=dict(
            optimizer="SGD-nesterov",
            lr_per_1024=lr,
            momentum=momentum,
            weight_decay_per_1024=weight_decay,
            bias_scaler=bias_scaler,
            start=start,
            peak=peak,
            label_smoothing=label_smoothing,
            batch_size=batch_size,
            epochs=epochs,
        ),
    )


SCHEDULES: dict[str, Callable[..., Schedule]] = {
    "paper": paper_sgd,
    "fast": one_cycle,
    "rmsprop": rmsprop_ko2020,
    "adamw": adamw_one_cycle,
    "triangle": triangle_sgd,
}


def get(name: str, epochs: int, **kw: Any) -> Schedule:
    """The schedule ``name`` (paper, fast, rmsprop, adamw, triangle) for ``epochs`` with keyword hyper-parameters."""
    try:
        make = SCHEDULES[name]
    except KeyError:
        raise InputError(f"unknown schedule {name!r} (schedules: {', '.join(SCHEDULES)})") from None
    return make(epochs, **kw)
