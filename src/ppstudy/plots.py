"""One way to save a figure: PNG + SVG, stable names, a fixed style, reproducible bytes."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import matplotlib

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": "gray",
    "svg.hashsalt": "ppstudy",  # stable element ids in SVG output
}

_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


@contextmanager
def style():
    """Apply the book's fixed plotting style inside a ``with`` block."""
    with matplotlib.rc_context(STYLE):
        yield


def apply_style() -> None:
    """Apply the book's fixed plotting style globally (used at the top of every chapter)."""
    matplotlib.rcParams.update(STYLE)


def save_figure(fig, out_dir: str | Path, name: str) -> dict[str, Path]:
    """Save ``fig`` as ``out_dir/name.png`` and ``out_dir/name.svg``; return both paths.

    Names are lower-case, stable identifiers (``fig4_far_frr``), so a rerun overwrites the same files.
    Metadata that changes between runs (dates, software versions) is left out.
    """
    from ppstudy import InputError

    if not _NAME.match(name):
        raise InputError(f"figure name {name!r}: use lower-case letters, digits, '_' and '-'")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"png": out / f"{name}.png", "svg": out / f"{name}.svg"}
    with matplotlib.rc_context({"svg.hashsalt": STYLE["svg.hashsalt"]}):
        fig.savefig(paths["png"], bbox_inches="tight", metadata={"Software": None})
        fig.savefig(paths["svg"], bbox_inches="tight", metadata={"Date": None, "Creator": None})
    return paths


def show_image(ax, img) -> None:
    """Show a uint8 image (gray or colour) at its true intensities, without axes."""
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def image_grid(rows: list[tuple[str, "object"]], *, cell: float = 1.5, label_width: float = 1.0):
    """A figure with one row per ``(label, images)`` pair (``images`` indexable, same count per row)."""
    import matplotlib.pyplot as plt

    n = len(rows[0][1])
    fig, ax = plt.subplots(len(rows), n, figsize=(cell * n + label_width, (cell + 0.1) * len(rows)), squeeze=False)
    for i, (label, images) in enumerate(rows):
        for j in range(n):
            show_image(ax[i, j], images[j])
        ax[i, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig
