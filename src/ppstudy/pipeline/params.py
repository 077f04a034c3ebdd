"""A run's parameters: the notebook's parameters cell, then the profile YAML, then command-line overrides.

The parameters cell holds literals only, so its names, defaults and types are read with :mod:`ast`
without executing anything (:func:`ppstudy.project.notebook.parameters_cell`). A profile YAML
(``book/params/<chapter>/<profile>.yml``) and ``-p NAME VALUE`` overrides may only set names that cell
declares, with values of a compatible type.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ppstudy import InputError
from ppstudy.project.chapters import Chapter
from ppstudy.project.notebook import RUNNER_PARAMS, parameters_cell
from ppstudy.project.profiles import profile_values


def _type_ok(default: Any, value: Any) -> bool:
    if default is None:
        return True
    if value is None:
        return False  # an empty value (`-p n ''`) never stands in for a number, a text or a list
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def _describe(default: Any) -> str:
    if isinstance(default, (list, tuple)) and default:
        kinds = sorted({type(v).__name__ for v in default})
        return f"a non-empty list of {' or '.join(kinds)}"
    return type(default).__name__


def _coerce(name: str, default: Any, value: Any, source: str) -> Any:
    bad = f"parameter {name}: expected {_describe(default)}, got {value!r}"
    if not _type_ok(default, value):
        raise InputError(f"{bad} ({type(value).__name__}) from {source}")
    if isinstance(default, (list, tuple)) and default:
        if not value:
            raise InputError(f"{bad} (an empty list) from {source}")
        kinds = {type(v) for v in default}
        for v in value:
            if not any(_type_ok(k(), v) if k is not type(None) else v is None for k in kinds):
                raise InputError(
                    f"{bad}: element {v!r} is not a {' or '.join(sorted(k.__name__ for k in kinds))} (from {source})"
                )
        if all(k is float for k in kinds):
            value = [float(v) for v in value]
    if isinstance(default, float) and isinstance(value, int):
        value = float(value)
    if isinstance(default, tuple) and isinstance(value, list):
        value = tuple(value)
    if (name == "seed" or name.endswith("_seed")) and isinstance(value, int) and value < 0:
        raise InputError(f"parameter {name}: a seed must be a non-negative integer, got {value} (from {source})")
    if isinstance(value, str) and isinstance(default, str) and "\x00" in value:
        raise InputError(f"parameter {name}: text with a NUL character (from {source})")
    return value


def _number(value: Any) -> float | None:
    """A finite number (a YAML text such as ``1e-3``, which YAML 1.1 reads as a string, counts); else None."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def _word_or_positive_number(*words: str) -> Callable[[str, Any, Any, str], Any]:
    """A parameter whose default is a word (e.g. ``"scale"``) that also takes a positive number."""

    def check(name: str, default: Any, value: Any, source: str) -> Any:
        if isinstance(value, str) and value in words:
            return value
        x = _number(value)
        if x is None or x <= 0:
            shown = " or ".join(repr(w) for w in words)
            raise InputError(f"parameter {name}: expected {shown} or a positive number, got {value!r} (from {source})")
        return float(x)

    return check


def _positive_elements(name: str, default: Any, value: Any, source: str) -> Any:
    """A list of numbers that the chapter divides by (e.g. reduction ratios): every element above zero."""
    value = _coerce(name, default, value, source)
    bad = next((v for v in value if not v > 0), None)
    if bad is not None:
        raise InputError(f"parameter {name}: every element must be positive, got {bad!r} (from {source})")
    return value


#: parameters whose values the type of their default does not describe: those that also take another kind
#: of value (their parameters cell documents it) or refuse some values of that type, keyed by chapter and
#: name; each check returns the value to use or raises InputError, so that a bad value is one clear line
#: before the run rather than an exception deep inside a cell
RULES: dict[tuple[str, str], Callable[[str, Any, Any, str], Any]] = {
    ("etc", "rbf_gamma"): _word_or_positive_number("scale"),
    ("etc", "ratios"): _positive_elements,
}


def parse_override(text: str) -> Any:
    """A command-line value, read as YAML: ``30`` is an int, ``0.1`` a float, ``true`` a bool, ``[1, 2]`` a list."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def resolve(
    chapter: Chapter, nb, profile: str, overrides: dict[str, Any] | None = None, root: Path | None = None
) -> dict[str, Any]:
    """Parameters for one run: the notebook's defaults, then the profile YAML, then the overrides.

    Returns only the values that differ from the parameters cell's source (what papermill injects).
    """
    defaults = parameters_cell(nb)
    missing = [n for n in RUNNER_PARAMS if n not in defaults]
    if missing:
        raise InputError(f"chapter {chapter.name}: its parameters cell lacks {', '.join(missing)}")
    merged: dict[str, Any] = {}
    for source, values in (
        (f"{profile}.yml", profile_values(chapter, profile, root)),
        ("the command line", overrides or {}),
    ):
        for name, value in values.items():
            if name not in defaults:
                raise InputError(
                    f"unknown parameter {name!r} for chapter {chapter.name} (from {source}; "
                    f"parameters: {', '.join(sorted(defaults))})"
                )
            if name in RUNNER_PARAMS:
                raise InputError(f"parameter {name!r} is set by the runner, not by {source}")
            check = RULES.get((chapter.name, name), _coerce)
            merged[name] = check(name, defaults[name], value, source)
    merged["profile"] = profile
    return merged
