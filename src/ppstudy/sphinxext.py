"""The Sphinx extension ``_config.yml`` loads by this name (a re-export of :mod:`ppstudy.site.sphinxext`)."""

from __future__ import annotations

from ppstudy.site.sphinxext import _register_bibliography_style, author_year_label, setup

__all__ = ["_register_bibliography_style", "author_year_label", "setup"]
