"""What every chapter notebook does first: the book's plotting style and display settings."""

from __future__ import annotations


def setup() -> None:
    """Apply the book's figure style; figures are shown through ``glue`` (never printed as reprs)."""
    from ppstudy.plots import apply_style

    apply_style()
    try:
        from IPython import get_ipython
    except ImportError:  # a plain Python process: nothing to configure
        return
    ip = get_ipython()
    if ip is not None:
        ip.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
        ip.run_line_magic("config", "InlineBackend.close_figures = True")
