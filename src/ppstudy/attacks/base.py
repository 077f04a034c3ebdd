"""What every matcher of the attacks package shares: one interface and one not-fitted error."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ppstudy import InputError


class NotFittedError(InputError):
    """A matcher was asked to score or predict before :meth:`Matcher.fit` set its threshold or key."""


@runtime_checkable
class Matcher(Protocol):
    """Decides whether an encoded image holds a given original.

    ``fit`` learns what it needs (a threshold, a recovered key) from matching training pairs;
    ``distance`` is 0 (or small) for a match; ``scores`` is higher for a more likely match;
    ``predict`` gives 0/1 per pair and raises :class:`NotFittedError` before ``fit``.
    """

    def fit(self, originals: np.ndarray, encoded: np.ndarray, *, seed: int = 0) -> Matcher: ...

    def distance(self, originals: np.ndarray, encoded: np.ndarray) -> np.ndarray: ...

    def scores(self, originals: np.ndarray, encoded: np.ndarray) -> np.ndarray: ...

    def predict(self, originals: np.ndarray, encoded: np.ndarray) -> np.ndarray: ...
