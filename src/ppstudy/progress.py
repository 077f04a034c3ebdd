"""Progress bars and progress messages that never end up in a notebook's output.

A chapter executed by ``ppstudy run`` (papermill) must not print progress bars into its cells: the book
would show them. The runner sets ``PPSTUDY_PROGRESS`` to a log file in the run directory and relays that
file to its own terminal while the chapter runs; :func:`bar` and :func:`note` write there. In a plain
Python process (a script, a benchmark) they write to stderr; inside an interactive Jupyter kernel without
``PPSTUDY_PROGRESS`` they stay silent.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, TypeVar

T = TypeVar("T")
ENV = "PPSTUDY_PROGRESS"

_stream: IO[str] | None = None
_stream_path: str | None = None


def _in_kernel() -> bool:
    return "ipykernel" in sys.modules and type(sys.stdout).__module__.startswith("ipykernel")


def stream() -> IO[str] | None:
    """Where progress goes now: the ``PPSTUDY_PROGRESS`` file, stderr outside a kernel, or None."""
    global _stream, _stream_path
    path = os.environ.get(ENV)
    if path:
        if _stream is None or _stream_path != path:
            _stream = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - kept open for the run
            _stream_path = path
        return _stream
    if _in_kernel():
        return None
    return sys.__stderr__


def bar(
    iterable: Iterable[T], *, desc: str = "", total: int | None = None, enabled: bool = True, mininterval: float = 2.0
) -> Iterator[T]:
    """``tqdm(iterable)`` writing to :func:`stream` (nothing when there is no stream or ``enabled`` is False)."""
    out = stream() if enabled else None
    if out is None:
        yield from iterable
        return
    from tqdm import tqdm

    with tqdm(
        iterable,
        desc=desc,
        total=total,
        file=out,
        mininterval=mininterval,
        dynamic_ncols=False,
        ncols=100,
        ascii=out is not sys.__stderr__,
    ) as t:
        yield from t


def note(message: str) -> None:
    """One line of progress (e.g. an epoch's loss) to :func:`stream`."""
    out = stream()
    if out is not None:
        print(message, file=out, flush=True)


@contextmanager
def to_file(path: str | os.PathLike) -> Iterator[None]:
    """Send progress to ``path`` for the duration of the block (the runner uses the environment instead)."""
    old = os.environ.get(ENV)
    os.environ[ENV] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = old


class _Silent:
    """A meter that counts nothing (no stream)."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass


def meter(total: int, *, desc: str = "", unit: str = "it", enabled: bool = True, mininterval: float = 2.0):
    """A manual progress bar (``update(n)``, ``set_postfix_str``, ``close``) writing to :func:`stream`."""
    out = stream() if enabled else None
    if out is None:
        return _Silent()
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=out,
        mininterval=mininterval,
        ncols=100,
        ascii=out is not sys.__stderr__,
        smoothing=0.05,
    )


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what native code writes to file descriptor 2 during the block (a Rust library's panic message
    when it refuses an input it is about to report as an error anyway); Python-level errors still raise."""
    try:
        fd = sys.__stderr__.fileno() if sys.__stderr__ else 2
        saved = os.dup(fd)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)
