"""Figures (ppstudy.plots): they fit the text column with readable fonts and save as stable PNG, SVG and JPEG."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from ppstudy import InputError
from ppstudy.plots import check_readable, save_figure


def test_figures_must_fit_the_text_column_with_readable_fonts(tmp_path):
    fig, ax = plt.subplots(figsize=(12, 3))
    with pytest.raises(InputError, match="wider|more than the text column"):
        check_readable(fig, "wide")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.set_title("tiny", fontsize=6)
    with pytest.raises(InputError, match="6.0 pt"):
        check_readable(fig, "small")
    ax.set_title("fine", fontsize=10)
    check_readable(fig, "ok")
    plt.close(fig)


def test_save_figure_png_svg_jpg_stable(tmp_path):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(np.random.default_rng(0).integers(0, 255, (16, 16)))
    p1 = save_figure(fig, tmp_path, "fig_a", photo=True)
    svg1 = p1["svg"].read_bytes()
    save_figure(fig, tmp_path, "fig_a", photo=True)
    assert p1["png"].stat().st_size > 0 and p1["svg"].read_bytes() == svg1
    assert p1["jpg"].read_bytes()[:2] == b"\xff\xd8"
    with pytest.raises(InputError, match="figure name"):
        save_figure(fig, tmp_path, "Bad Name")
    plt.close(fig)
