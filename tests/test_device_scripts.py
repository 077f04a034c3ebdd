"""The prepared device run (scripts/device/): its pieces on small inputs, and the whole run in toy mode.

The toy run executes the same scripts as the device calls, on CPU: toy CIFAR-10 batch files in the real
pickle format (their own md5 list), staging with md5 checks, the smoke, the benchmark, a chapter run on
the smoke data with a tiny model within a time budget, and the unpacking into a runs folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEVICE = ROOT / "scripts" / "device"


def _load(name):
    """Import scripts/device/<name>.py as the scripts import each other (``import ppdev``)."""
    if str(DEVICE) not in sys.path:
        sys.path.insert(0, str(DEVICE))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, DEVICE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


ppdev = _load("ppdev")
build_carry = _load("build_carry")
unpack = _load("unpack")
device_call = _load("device_call")
smoke = _load("smoke")


# ------------------------------------------------------------------------------------------ data
def test_toy_cifar_files_are_real_batches_with_their_md5(tmp_path):
    md5 = build_carry.write_toy_cifar(tmp_path, n_per_batch=12, seed=3)
    assert set(md5) == set(ppdev.OFFICIAL_MD5)
    for name, h in md5.items():
        assert ppdev.md5_file(tmp_path / name) == h
        assert h != ppdev.OFFICIAL_MD5[name]
    x, y = smoke.read_batch(tmp_path / "data_batch_3")
    assert x.shape == (12, 32, 32, 3) and x.dtype.name == "uint8"
    assert y.shape == (12,) and y.min() >= 0 and y.max() <= 9
    with open(tmp_path / "data_batch_3", "rb") as f:
        d = pickle.load(f, encoding="bytes")
    # the pickle's row layout (R plane, G plane, B plane) is what read_batch turns into NHWC
    assert (d[b"data"][5, 1024 + 33] == x[5, 1, 1, 1]) and (d[b"data"][5, 2 * 1024] == x[5, 0, 0, 2])
    meta = pickle.loads((tmp_path / "batches.meta").read_bytes(), encoding="bytes")
    assert meta[b"num_vis"] == 3072 and len(meta[b"label_names"]) == 10


def test_xz_round_trip_is_exact_and_a_wrong_md5_leaves_no_file(tmp_path):
    src = tmp_path / "data_batch_1"
    payload = bytes(range(256)) * 500 + b"tail"
    src.write_bytes(payload)
    rec = ppdev.xz_compress_file(src, tmp_path / "data_batch_1.xz")
    assert rec["md5"] == ppdev.md5_file(src) and rec["xz_bytes"] < rec["bytes"]
    dest = tmp_path / "out" / "data_batch_1"
    ppdev.xz_decompress_verified(tmp_path / "data_batch_1.xz", dest, rec["md5"])
    assert dest.read_bytes() == payload
    bad = tmp_path / "bad" / "data_batch_1"
    with pytest.raises(ppdev.DeviceRunError, match="md5"):
        ppdev.xz_decompress_verified(tmp_path / "data_batch_1.xz", bad, "0" * 32)
    assert not bad.exists() and not bad.with_name("data_batch_1.part").exists()
    with pytest.raises(ppdev.DeviceRunError, match="official"):
        ppdev.xz_decompress_verified(
            tmp_path / "data_batch_1.xz", bad, rec["md5"], official=ppdev.OFFICIAL_MD5["data_batch_1"]
        )


def test_every_cifar_file_travels_once_with_at_most_two_batches_a_call():
    files = [f for call in ppdev.CALL_FILES.values() for f in call]
    assert sorted(files) == sorted(ppdev.OFFICIAL_MD5)
    for call in ppdev.CALL_FILES.values():
        assert sum(f != "batches.meta" for f in call) <= 2
    for calls in ppdev.CALL_FOLDERS.values():
        assert sorted(calls) == [1, 2, 3] and all(f"c{k}" in calls[k] for k in calls)


# ------------------------------------------------------------------------------------------ wheels
def _make_wheel(folder: Path, name: str, version: str, requires=(), module_text="VALUE = 42\n") -> Path:
    dist = f"{name.replace('-', '_')}-{version}"
    path = folder / f"{dist}-py3-none-any.whl"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name.replace('-', '_')}/__init__.py", module_text)
        z.writestr(f"{dist}.dist-info/METADATA", meta)
        z.writestr(
            f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        z.writestr(f"{dist}.dist-info/RECORD", "")
    return path


def test_packed_wheels_are_rebuilt_member_for_member_and_install(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    w1 = _make_wheel(src, "toy-alpha", "1.0", module_text="VALUE = 'alpha'\n" * 200)
    w2 = _make_wheel(src, "toy-beta", "2.1")
    pack = tmp_path / "c1.wheels.tar.xz"
    rec = ppdev.pack_wheels([w2, w1], pack)
    assert rec["wheels"] == sorted([w1.name, w2.name])
    rebuilt = ppdev.unpack_wheels(pack, tmp_path / "out")
    assert [p.name for p in rebuilt] == sorted([w1.name, w2.name])
    for orig in (w1, w2):
        with zipfile.ZipFile(orig) as a, zipfile.ZipFile(tmp_path / "out" / orig.name) as b:
            assert a.namelist() == b.namelist()
            assert all(a.read(n) == b.read(n) for n in a.namelist())
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--no-compile",
            "--disable-pip-version-check",
            "--target",
            str(site),
        ]
        + [str(p) for p in rebuilt],
        check=True,
    )
    out = subprocess.run(
        [sys.executable, "-c", "import toy_alpha, toy_beta; print(toy_alpha.VALUE[:5], toy_beta.VALUE)"],
        env=dict(os.environ, PYTHONPATH=str(site)),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["alpha", "42"]


def test_wheel_selection_follows_requirements_but_not_into_the_device_image(tmp_path):
    _make_wheel(
        tmp_path, "top", "1.0", requires=["mid>=1", "numpy>=1.20", "debugpy", "winonly; sys_platform == 'win32'"]
    )
    _make_wheel(tmp_path, "mid", "1.2", requires=["leaf", "torch"])
    _make_wheel(tmp_path, "leaf", "0.1")
    _make_wheel(tmp_path, "unrelated", "9.9")
    chosen, skipped = build_carry.select_wheels(tmp_path, ["top==1.0"], present={"numpy", "torch"})
    assert [ppdev.wheel_dist_name(p.name) for p in chosen] == ["leaf", "mid", "top"]
    why = {s["requirement"].split(">")[0].split("=")[0]: s["why"] for s in skipped}
    assert why == {
        "numpy": "present on the device",
        "debugpy": "not needed at run time",
        "torch": "present on the device",
    }
    _make_wheel(tmp_path, "needy", "1.0", requires=["absent"])
    with pytest.raises(ppdev.DeviceRunError, match="no wheel of absent"):
        build_carry.select_wheels(tmp_path, ["needy"], present=set())


def test_device_package_list_names_the_image_s_torch_stack_and_not_the_jupyter_stack():
    present = ppdev.read_name_list(DEVICE / "device_packages.txt")
    assert {"torch", "timm", "numpy", "scikit-image", "pyyaml", "matplotlib"} <= present
    assert not {"papermill", "jupytext", "nbformat", "ipykernel", "pyzmq", "pyope", "vtracer"} & present


# ------------------------------------------------------------------------------------------ checks
def _results(tmp_path, rows2, rows3, params=None):
    d = tmp_path / "run"
    d.mkdir(exist_ok=True)
    tables = {"table2": {"rows": rows2}, "table3": {"rows": rows3}}
    (d / "results.json").write_text(json.dumps({"tables": tables, "params": params or {}}))
    return d


def test_check_run_accepts_measured_and_not_run_rows_and_nothing_else(tmp_path):
    ok = {"measured_accuracy_pct": 91.0, "measured_best_epoch_pct": 91.5}
    skip = {"measured_accuracy_pct": None, "measured_best_epoch_pct": None, "status": "not run"}
    rows3 = [
        {"measured_client_pct": 92.0, "measured_cloud_pct": 85.0},
        {"measured_client_pct": None, "measured_cloud_pct": 80.0, "status": "not run"},
        {"measured_client_pct": None, "measured_cloud_pct": None, "status": "not run"},
    ]
    d = _results(tmp_path, [ok] * 5 + [skip] * 3, rows3)
    s = unpack.check_run(d, "pixel")
    assert s["table2"] == {
        "measured": ["plain", "step2", "step2_adapt", "step23", "step23_adapt"],
        "not_run": ["tanaka", "etc", "chaotic"],
    }
    assert s["table3"] == {"measured": ["step2"], "not_run": ["step2_adapt", "tanaka"]}
    for bad2, msg in (
        ([ok] * 7, "7 rows"),
        ([ok] * 7 + [{"measured_accuracy_pct": None}], "neither"),
        ([ok] * 7 + [dict(ok, status="not run")], "marked not run"),
    ):
        with pytest.raises(ValueError, match=msg):
            unpack.check_run(_results(tmp_path, bad2, rows3), "pixel")


def test_staging_refuses_toy_data_outside_toy_mode_and_catches_a_replaced_machine(tmp_path, monkeypatch):
    carry = tmp_path / "carry"
    src = tmp_path / "src"
    md5 = build_carry.write_toy_cifar(src, n_per_batch=4)
    build_carry.build_data(src, carry, md5, official=False, jobs=1)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("OUT", str(tmp_path / "out"))
    monkeypatch.setenv("PPDEV_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("PPDEV_CARRY", str(carry))
    monkeypatch.delenv("PPDEV_TOY", raising=False)
    with pytest.raises(ppdev.DeviceRunError, match="toy data"):
        device_call.Call(1, "pixel", None).stage()
    monkeypatch.setenv("PPDEV_TOY", "1")
    c1 = device_call.Call(1, "pixel", None)
    c1.stage()
    staged = tmp_path / "state" / "data" / ppdev.CIFAR_SUBDIR
    assert sorted(p.name for p in staged.iterdir()) == ["data_batch_1", "data_batch_2"]
    assert all(ppdev.md5_file(staged / f) == md5[f] for f in ("data_batch_1", "data_batch_2"))
    with pytest.raises(ppdev.DeviceRunError, match="call 2"):
        device_call.Call(3, "pixel", None).check_earlier_calls()
    device_call.Call(2, "pixel", None).check_earlier_calls()  # call 1's folder is there


def test_auto_epochs_fit_every_row_in_the_budget(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("OUT", str(tmp_path / "out"))
    monkeypatch.setenv("PPDEV_STATE", str(tmp_path / "state"))
    monkeypatch.delenv("PPDEV_EPOCHS", raising=False)
    kinds = {"plain": 1.2, "pixel_adaptation": 1.5, "block_adaptation": 1.4}
    ppdev.write_json(
        tmp_path / "state" / "smoke.json",
        {
            "configs": {
                k: {"s_epoch_50k": v, "eval_s_10k": 0.1, "overhead_s": 1.0, "first_epoch_extra_s": 2.0}
                for k, v in kinds.items()
            }
        },
    )
    call = device_call.Call(3, "pixel", None)
    prm = {"epochs": 18}
    rows = list(device_call.PIXEL_ROW_KINDS) + list(device_call.PIXEL_TABLE3)
    per_epoch = sum(kinds[device_call.PIXEL_ROW_KINDS[r]] + 0.1 for r in rows)
    fixed = len(rows) * (1.0 + 2.0 + 2.0)
    last = 0
    for budget in (100, 300, 450, 600, 900, 5000):
        e = call.pixel_epochs(budget, prm)
        assert device_call.MIN_EPOCHS <= e <= device_call.MAX_EPOCHS and e >= last
        if device_call.MIN_EPOCHS < e < device_call.MAX_EPOCHS:
            assert fixed + e * per_epoch <= 0.9 * budget < fixed + (e + 1) * per_epoch
        last = e
    assert (
        call.pixel_epochs(5000, prm) == device_call.MAX_EPOCHS and call.pixel_epochs(100, prm) == device_call.MIN_EPOCHS
    )
    assert call.pixel_epochs(float("inf"), prm) == 18
    monkeypatch.setenv("PPDEV_EPOCHS", "12")
    assert call.pixel_epochs(450, prm) == 12


def test_a_large_run_travels_in_parts_and_is_joined_back(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("OUT", str(tmp_path / "out"))
    monkeypatch.setenv("PPDEV_STATE", str(tmp_path / "state"))
    monkeypatch.setattr(device_call, "OUT_FILE_LIMIT", 2 * ppdev.MIB)
    run = tmp_path / "device-runs" / "pixel" / "paper-fast"
    (run / "figures").mkdir(parents=True)
    blob = os.urandom(3 * ppdev.MIB + 12345)  # incompressible: xz cannot make it smaller
    (run / "figures" / "big.png").write_bytes(blob)
    (run / "results.json").write_text("{}")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "smoke.json").write_text('{"ok": 1}')
    call = device_call.Call(3, "pixel", None)
    call.pack(run)
    files = call.record["packed"]["files"]
    assert files == [f"run.tar.xz.{i:02d}" for i in range(len(files))] and len(files) == 4
    assert all((tmp_path / "out" / f).stat().st_size <= 2 * ppdev.MIB for f in files)
    final = unpack.unpack(tmp_path / "out", "pixel", "paper-fast", tmp_path / "runs")
    assert (final / "figures" / "big.png").read_bytes() == blob
    assert json.loads((final / "device" / "smoke.json").read_text()) == {"ok": 1}
    (tmp_path / "out" / files[1]).unlink()
    with pytest.raises(SystemExit, match="parts missing"):
        unpack.unpack(tmp_path / "out", "pixel", "paper-fast", tmp_path / "runs2")


# ------------------------------------------------------------------------------------------ toy run
def _has_budget_parameter(chapter: str) -> bool:
    text = (ROOT / "book" / f"{chapter}.md").read_text()
    return "time_budget_s" in text.split("tags: [parameters]", 1)[1].split("```", 1)[0]


@pytest.mark.slow
@pytest.mark.parametrize("chapter", ["pixel", "deid"])
def test_toy_device_run_end_to_end(tmp_path, chapter):
    if not _has_budget_parameter(chapter):
        pytest.skip(f"the {chapter} chapter has no time_budget_s parameter yet")
    work = tmp_path / "toy"
    proc = subprocess.run(
        [sys.executable, str(DEVICE / "toy.py"), chapter, "--budget", "3", "--workdir", str(work)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "src")),
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    run = work / "runs" / chapter / device_call.PROFILES[chapter]
    summary = unpack.check_run(run, chapter)
    rows = {n for t in summary.values() for n in t["measured"] + t["not_run"]}
    assert rows == {n for names in unpack.EXPECTED_ROWS[chapter].values() for n in names}
    first = next(iter(unpack.EXPECTED_ROWS[chapter]))
    assert summary[first]["measured"], "no row ran at all"
    assert any(t["not_run"] for t in summary.values()), "a 3 s budget left no row unrun"
    smoke_figs = json.loads((run / "device" / "smoke.json").read_text())
    if chapter == "pixel":
        assert set(smoke_figs["ciphers"]) == {"pixel2", "pixel23", "tanaka", "etc", "chaotic"}
        assert all(r["equal"] for r in smoke_figs["ciphers"].values())
        assert set(smoke_figs["configs"]) == {"plain", "pixel_adaptation", "block_adaptation"}
        assert json.loads((run / "device" / "bench.json").read_text())["rows"]
    else:
        assert set(smoke_figs["configs"]) == {"classifier"}
        deid_figs = json.loads((run / "device" / "smoke-deid.json").read_text())["deid"]
        assert deid_figs["images"] > 0 and deid_figs["images_per_s"] > 0
    for call in (1, 2, 3):
        rec = json.loads((run / "device" / f"call{call}.json").read_text())
        assert "error" not in rec and all(s["ok"] for s in rec["steps"].values())
    manifest = json.loads((run / "results.json").read_text())
    assert manifest["params"]["time_budget_s"] == 3
    assert (run / f"{chapter}.ipynb").is_file() and any((run / "figures").iterdir())
