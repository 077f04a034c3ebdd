"""The one validation layer of ppstudy's public API.

Every public function checks its scalar arguments here, so that bad input (a fractional count, a string
where a flag is expected, NaN, a negative seed, a size that would allocate gigabytes) fails at once with
one :class:`ppstudy.InputError` that names the argument and the value, instead of a silently wrong answer,
a hang or a raw traceback from deep inside numpy. The checks return the value in its canonical type
(``int``, ``float``, ``bool``, a tuple of ints) and never change a valid value.

Functions: :func:`boolean`, :func:`integer`, :func:`positive_int`, :func:`number`, :func:`seed`,
:func:`shape`, :func:`choice`, :func:`at_most`, :func:`int_array`, :func:`file_path` and
:func:`dir_path`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ppstudy import InputError

T = TypeVar("T")

#: the most values (H * W * C) of one image that a key or a resize may be made for: 2^25, e.g. 3344 x 3344 x 3
#: (a key's gather index costs 8 bytes per value)
MAX_IMAGE_VALUES = 1 << 25


def _show(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def boolean(name: str, v: Any) -> bool:
    """``v`` as a bool; only ``True``/``False`` (and numpy bools) are accepted, never ``'no'`` or ``1``."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    raise InputError(f"{name} must be True or False, got {_show(v)}")


def _range_text(low, high) -> str:
    if low is not None and high is not None:
        return f" in {low}..{high}"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def integer(name: str, v: Any, *, low: int | None = None, high: int | None = None) -> int:
    """``v`` as an int in ``low..high`` (inclusive; None: unbounded). Python and numpy integers only: floats
    (also ``2.0``), bools, NaN and strings are refused."""
    if not _is_int(v) or (low is not None and v < low) or (high is not None and v > high):
        raise InputError(f"{name} must be an integer{_range_text(low, high)}, got {_show(v)}")
    return int(v)


def positive_int(name: str, v: Any, *, high: int | None = None) -> int:
    """``v`` as an int ``>= 1`` (and ``<= high``)."""
    return integer(name, v, low=1, high=high)


def number(
    name: str,
    v: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    finite: bool = True,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``v`` as a float in ``[low, high]`` (``low_open``/``high_open`` exclude the ends). Real numbers only
    (bools and strings are refused); NaN always, and infinities when ``finite``, are refused."""
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "iuf":
        v = v.item()  # a 0-d array, e.g. np.mean(...) of a masked array
    ok = isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))
    x = float(v) if ok else math.nan
    if ok and (math.isnan(x) or (finite and math.isinf(x))):
        ok = False
    if ok and low is not None and (x < low or (low_open and x == low)):
        ok = False
    if ok and high is not None and (x > high or (high_open and x == high)):
        ok = False
    if not ok:
        lo = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
        hi = "" if high is None else f"{high:g}" + (")" if high_open else "]")
        where = f" in {lo}, {hi}" if low is not None and high is not None else ""
        where = where or (f" >{'' if low_open else '='} {low:g}" if low is not None else "")
        where = where or (f" <{'' if high_open else '='} {high:g}" if high is not None else "")
        kind = "a finite number" if finite else "a number"
        raise InputError(f"{name} must be {kind}{where}, got {_show(v)}")
    return x


def seed(name: str, v: Any):
    """A seed: None (OS entropy), a non-negative integer or a ``numpy.random.SeedSequence``; returned as is
    (an int as ``int``). Negative, fractional, boolean or text seeds are refused."""
    if v is None or isinstance(v, np.random.SeedSequence):
        return v
    if not _is_int(v) or v < 0:
        raise InputError(f"{name} must be None, a non-negative integer or a SeedSequence, got {_show(v)}")
    return int(v)


def shape(
    name: str,
    v: Any,
    *,
    ndim: Iterable[int] = (2, 3),
    low: int = 1,
    max_values: int | None = MAX_IMAGE_VALUES,
) -> tuple[int, ...]:
    """``v`` as a tuple of ints of one of the lengths ``ndim``, every entry ``>= low`` and their product at
    most ``max_values`` (None: no cap; checked before anything is allocated)."""
    dims = tuple(ndim)
    try:
        t = tuple(v)
    except TypeError:
        raise InputError(f"{name} must be a tuple of {' or '.join(map(str, dims))} integers, got {_show(v)}") from None
    if len(t) not in dims or not all(_is_int(s) for s in t) or any(s < low for s in t):
        raise InputError(f"{name} must be a tuple of {' or '.join(map(str, dims))} integers >= {low}, got {_show(v)}")
    out = tuple(int(s) for s in t)
    if max_values is not None and math.prod(out) > max_values:
        raise InputError(
            f"{name} {out} has {math.prod(out)} values, more than the {max_values} accepted "
            f"(ppstudy.validate.MAX_IMAGE_VALUES)"
        )
    return out


def choice(name: str, v: Any, options: Iterable[T]) -> T:
    """``v`` if it is one of ``options`` (compared with ``==``, type included: ``True`` is not ``1``)."""
    opts = tuple(options)
    for o in opts:
        if type(v) is type(o) and v == o:
            return o
    raise InputError(f"{name} must be one of {', '.join(map(repr, opts))}, got {_show(v)}")


def at_most(name: str, v: int | float, cap: int | float, what: str = "") -> None:
    """Refuse ``v > cap`` with a message naming the cap (``what`` names the constant or the reason)."""
    if v > cap:
        tail = f" ({what})" if what else ""
        raise InputError(f"{name} is {v}, more than the cap of {cap}{tail}")


def int_array(name: str, a: Any, *, shape: tuple[int, ...] | None = None, low: int | None = None, high=None):
    """``a`` as an int64 numpy array after checking, before any cast, that it holds integers (bools and
    floats, NaN and 1.5 included, are refused) of ``shape`` in ``low..high``."""
    arr = np.asarray(a)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or (arr.size == 0 and arr.dtype == float)):
        raise InputError(f"{name} must hold integers, got dtype {arr.dtype}")
    if shape is not None and arr.shape != shape:
        raise InputError(f"{name} must have shape {shape}, got {arr.shape}")
    if arr.size and ((low is not None and arr.min() < low) or (high is not None and arr.max() > high)):
        raise InputError(f"{name} must hold integers{_range_text(low, high)}, got min {arr.min()}, max {arr.max()}")
    return arr.astype(np.int64)


def bool_array(name: str, a: Any, *, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``a`` as a bool numpy array: bools, or integers 0/1 (never strings or floats)."""
    arr = np.asarray(a)
    ints = np.issubdtype(arr.dtype, np.integer)
    if arr.dtype != bool and (not ints or (arr.size and (arr.min() < 0 or arr.max() > 1))):
        raise InputError(f"{name} must hold flags (bool, or 0/1 integers), got dtype {arr.dtype}")
    if shape is not None and arr.shape != shape:
        raise InputError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr.astype(bool)


def file_path(name: str, p: Any) -> Path:
    """``p`` as a Path naming an existing regular file (not a directory)."""
    if not isinstance(p, (str, Path)):
        raise InputError(f"{name} must be a path, got {_show(p)}")
    path = Path(p)
    if not path.is_file():
        why = "is a directory" if path.is_dir() else "does not exist"
        raise InputError(f"{name} {path} {why}; expected a file")
    return path


def dir_path(name: str, p: Any) -> Path:
    """``p`` as a Path naming an existing directory."""
    if not isinstance(p, (str, Path)):
        raise InputError(f"{name} must be a path, got {_show(p)}")
    path = Path(p)
    if not path.is_dir():
        why = "is a file" if path.exists() else "does not exist"
        raise InputError(f"{name} {path} {why}; expected a directory")
    return path


__all__ = [
    "MAX_IMAGE_VALUES",
    "at_most",
    "bool_array",
    "boolean",
    "choice",
    "dir_path",
    "file_path",
    "int_array",
    "integer",
    "number",
    "positive_int",
    "seed",
    "shape",
]
