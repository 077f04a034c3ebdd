"""``from ppstudy.book import setup``: what every chapter notebook does first (see :mod:`ppstudy.kernel.setup`)."""

from __future__ import annotations

from ppstudy.kernel.setup import setup

__all__ = ["setup"]
