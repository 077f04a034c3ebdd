"""What every chapter notebook does first: the book's plotting style and display settings."""

from __future__ import annotations


def setup() -> None:
    """Apply the book's figure style; figures are shown through ``glue`` (never printed as reprs).

    Libraries the chapters use (timm, albumentations) import ``tqdm.auto``, which warns inside a kernel
    without ipywidgets; it is imported here once with that warning silenced (no progress bar is shown
    in the book: library progress goes through :mod:`ppstudy.progress`)."""
    import warnings

    from ppstudy.plots import apply_style

    apply_style()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import tqdm.auto  # noqa: F401
    try:
        from IPython import get_ipython
    except ImportError:  # a plain Python process: nothing to configure
        return
    ip = get_ipython()
    if ip is not None:
        ip.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
        ip.run_line_magic("config", "InlineBackend.close_figures = True")
