"""ppstudy: reimplementing four papers on learning from encrypted or de-identified images.

The package holds all the logic; the Jupyter Book in ``book/`` calls into it.
"""

from __future__ import annotations

__version__ = "0.1.0"


class PPStudyError(Exception):
    """Base class for errors that the CLI reports as one line (exit code 2)."""


class InputError(PPStudyError, ValueError):
    """Bad input: wrong shape, dtype, block size, key, parameter or file."""


class DataUnavailableError(PPStudyError, RuntimeError):
    """A dataset is neither cached nor downloadable (e.g. offline)."""


class DependencyError(PPStudyError, ImportError):
    """An optional dependency a feature needs is not installed (the message names what to install)."""


__all__ = ["PPStudyError", "InputError", "DataUnavailableError", "DependencyError", "__version__"]
