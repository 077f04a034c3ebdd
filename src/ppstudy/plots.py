"""One way to make and save a figure: a fixed style sized for the book's text column, PNG + SVG (+ JPEG for
photographs), stable names, reproducible bytes.

The book's text column is about 784 CSS pixels wide at a 1400-pixel window. A figure at most
:data:`TEXT_WIDTH_IN` inches wide is shown at no less than its own size, so its fonts render at the point
size they are set in; :func:`check_readable` refuses wider figures and fonts below :data:`MIN_FONT_PT`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib

#: width of the book's text column in inches at 96 CSS px per inch (784 px)
TEXT_WIDTH_IN = 8.2
#: the smallest font a figure may use, in points at its rendered size
MIN_FONT_PT = 9.0

STYLE: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 10,
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
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
        yield


def apply_style() -> None:
    """Apply the book's fixed plotting style globally (used at the top of every chapter)."""
    matplotlib.rcParams.update(STYLE)  # type: ignore[arg-type]


def check_readable(fig, name: str = "figure") -> None:
    """Raise unless ``fig`` fits the text column (width <= TEXT_WIDTH_IN) with every visible text at least
    MIN_FONT_PT points: then nothing is scaled down below a readable size in the book."""
    from matplotlib.text import Text

    from ppstudy import InputError

    w, _ = fig.get_size_inches()
    if w > TEXT_WIDTH_IN + 1e-6:
        raise InputError(
            f"figure {name}: {w:.1f} in wide, more than the text column ({TEXT_WIDTH_IN} in); "
            f"the book would shrink its fonts below {MIN_FONT_PT} pt"
        )
    small = sorted(
        {
            round(t.get_fontsize(), 1)
            for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and t.get_fontsize() < MIN_FONT_PT - 1e-6
        }
    )
    if small:
        sizes = ", ".join(map(str, small))
        raise InputError(f"figure {name}: text at {sizes} pt, below the book's minimum of {MIN_FONT_PT} pt")


def save_figure(fig, out_dir: str | Path, name: str, *, photo: bool = False) -> dict[str, Path]:
    """Save ``fig`` as ``out_dir/name.png`` and ``out_dir/name.svg`` (and ``name.jpg`` when ``photo``: a
    figure of photographs or noise images, which PNG stores badly); return the paths.

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
        if photo:
            paths["jpg"] = out / f"{name}.jpg"
            fig.savefig(paths["jpg"], bbox_inches="tight", pil_kwargs={"quality": 88, "optimize": True})
    return paths


def show_image(ax, img) -> None:
    """Show a uint8 image (gray, H x W or H x W x 1, or colour) at its true intensities, without axes."""
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def image_grid(
    rows: Sequence[tuple[str, Sequence[Any]]],
    *,
    cell: float = 1.2,
    label_width: float = 1.4,
    titles: list[str] | None = None,
):
    """A figure with one row per ``(label, images)`` pair (``images`` indexable, same count per row); the
    cells shrink so that the whole grid fits the text column."""
    import matplotlib.pyplot as plt

    n = len(rows[0][1])
    cell = min(cell, (TEXT_WIDTH_IN - label_width) / n)
    fig, ax = plt.subplots(
        len(rows), n, figsize=(cell * n + label_width, (cell + 0.15) * len(rows) + 0.3), squeeze=False
    )
    for i, (label, images) in enumerate(rows):
        for j in range(n):
            show_image(ax[i, j], images[j])
        ax[i, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    for j, t in enumerate(titles or []):
        ax[0, j].set_title(t)
    fig.tight_layout()
    return fig
