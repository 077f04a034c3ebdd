"""Run manifest and figure saving."""

from __future__ import annotations

import json
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ppstudy import InputError  # noqa: E402
from ppstudy.plots import save_figure  # noqa: E402
from ppstudy.results import Run, load, table_frame  # noqa: E402


def test_manifest_round_trip(tmp_path):
    run = Run("etc", "smoke", {"a": 1}, tmp_path, data="toy")
    with run.stage("s"):
        pass
    df = run.table("t1", [{"ratio": "1/20", "paper": 0.02, "measured": np.float64(0.5)},
                          {"ratio": "1/40", "paper": None, "measured": math.nan}], caption="c")
    assert list(df.columns) == ["ratio", "paper", "this run (smoke)"]
    assert df.attrs["caption"] == "c [this run (smoke): toy]"
    run.value("diff", np.float32(1e-12))
    run.save()
    m = load(tmp_path)
    assert m["tables"]["t1"]["rows"][1] == {"ratio": "1/40", "paper": None, "measured": None}
    assert m["params"] == {"a": 1} and "s" in m["timings_s"] and m["git"]["commit"] is not None
    assert table_frame(m, "t1").shape == (2, 3)
    assert not list(tmp_path.glob("*.tmp"))


def test_missing_and_corrupt_results(tmp_path):
    with pytest.raises(InputError, match="run the chapter first"):
        load(tmp_path)
    (tmp_path / "results.json").write_text("{broken")
    with pytest.raises(InputError, match="corrupt"):
        load(tmp_path)


def test_empty_table_rejected(tmp_path):
    with pytest.raises(InputError, match="no rows"):
        Run("etc", "smoke", {}, tmp_path).table("t", [])


def test_save_figure_png_svg_stable(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    p1 = save_figure(fig, tmp_path, "fig_a")
    svg1 = p1["svg"].read_bytes()
    save_figure(fig, tmp_path, "fig_a")
    assert p1["png"].stat().st_size > 0 and p1["svg"].read_bytes() == svg1
    with pytest.raises(InputError, match="figure name"):
        save_figure(fig, tmp_path, "Bad Name")
    plt.close(fig)
    json.dumps({k: str(v) for k, v in p1.items()})
