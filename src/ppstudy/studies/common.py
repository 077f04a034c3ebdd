"""What the four chapters' study modules share: the chapter's run started from the notebook's parameters,
and CIFAR-10 (or its offline stand-in) as the chapters that train on it load it."""

from __future__ import annotations

from typing import Any

from ppstudy import InputError


def start(chapter: str, namespace: dict[str, Any], source):
    """The chapter's :class:`~ppstudy.kernel.run.Run`: its parameters read from the notebook's ``namespace``
    and ``source`` (a :class:`~ppstudy.data.source.DataSource`) recorded as its data."""
    from ppstudy.kernel.run import Run

    run = Run.start(chapter, namespace)
    run.use_data(source)
    return run


def load_cifar10(data: str, n_train: int, n_test: int, seed: int) -> dict[str, Any]:
    """The images of a chapter that trains on CIFAR-10: ``data`` = ``"smoke"`` (bundled photograph patches,
    balanced, offline) or ``"cifar10"`` (``n_train`` / ``n_test`` drawn with ``seed``; 0 means the whole
    split). Returns ``x_train, y_train, x_test, y_test, classes`` and ``source`` (a DataSource)."""
    from ppstudy.data import cifar10
    from ppstudy.data import source as datasource

    if data == "smoke":
        k = 8
        xtr, ytr, xte, yte, names = cifar10.smoke_dataset(max(1, n_train // k), max(1, n_test // k), seed=seed)
        src = datasource.smoke(
            f"{len(xtr)} training / {len(xte)} test 32x32 patches of {len(names)} scikit-image "
            f"photographs (class = photograph)"
        )
    elif data == "cifar10":
        xtr, ytr, xte, yte, src = cifar10.load_train_test(n_train, n_test, seed=seed)
        names = cifar10.CLASSES
    else:
        raise InputError(f"data must be 'smoke' or 'cifar10', got {data!r}")
    return {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte, "classes": tuple(names), "source": src}
