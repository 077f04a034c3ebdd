"""The prepared device run end to end HERE, on CPU, at toy size: the same scripts, the same order.

    python scripts/device/toy.py pixel [--budget 20] [--workdir DIR] [--wheels-from DIR]
    python scripts/device/toy.py deid

1. ``build_carry.py --toy``: tiny CIFAR-10 batch files in the real pickle format with their own md5
   list, xz-compressed into the per-call folders (wheels: none, or those of ``--wheels-from``).
2. ``call.sh 1``, ``call.sh 2``, ``call.sh 3`` as the device tool would run them (``OUT`` a fresh folder
   per call, one state folder for the "machine"): staging with md5 checks, wheel install (skipped when
   nothing is carried), environment and notebook checks, the smoke on CPU, the benchmark, and the chapter
   on the smoke data with a tiny model within ``--budget`` seconds of training rows.
3. ``unpack.py`` on what call 3 returned, into a separate runs folder (this machine's side), and the check
   that every table row is measured or marked "not run".
Exit status 0 when every step passed; the folders stay in ``--workdir`` for a look.

``--device-sim`` checks the wheel set itself: it downloads the same pinned packages for THIS Python
(the device's are for 3.12), selects them against ``device_packages.txt`` exactly as ``build_carry.py``
does, and runs the calls under a Python that sees only the distributions the device image has (linked
from this environment, with what they need) plus the carried wheels, installed by call 1 as on the
device. A missing requirement fails there as it would on the device. It needs the package registry.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import ppdev  # noqa: E402


def device_like_python(work: Path, chapters: list[str]) -> tuple[str, Path]:
    """A Python whose site-packages hold only the device image's distributions (and their requirements)
    of this environment, and a folder of this Python's wheels of the carried set."""
    import sysconfig
    from importlib import metadata

    import build_carry

    present = ppdev.read_name_list(HERE / "device_packages.txt") | {"pip", "setuptools", "wheel"}
    dists = {ppdev.normalize(d.metadata["Name"]): d for d in metadata.distributions()}
    keep, todo = set(), [n for n in present if n in dists]
    while todo:  # the device's distributions and what they need (the image has those too)
        n = todo.pop()
        if n in keep or n not in dists:
            continue
        keep.add(n)
        for r in dists[n].requires or []:
            from packaging.requirements import Requirement

            r = Requirement(r)
            if r.marker is None or r.marker.evaluate({"extra": ""}):
                todo.append(ppdev.normalize(r.name))
    venv = work / "device-python"
    if not venv.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    ours = Path(sysconfig.get_paths()["purelib"])
    for n in sorted(keep):
        tops = {Path(f).parts[0] for f in (dists[n].files or []) if not str(f).startswith("..")}
        for t in tops:
            src, dest = ours / t, site / t
            if src.exists() and not dest.exists() and t != "__pycache__":
                dest.symlink_to(src)
    wheels = work / "wheels-this-python"
    roots = build_carry._pins(build_carry.BASE_PACKAGES + (build_carry.DEID_PACKAGES if "deid" in chapters else ()))
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "-d",
        str(work / "wheel-cache"),
    ] + roots
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    import re

    files = sorted(
        {
            work / "wheel-cache" / Path(m).name
            for m in re.findall(r"(?:Saved|File was already downloaded) (\S+\.whl)", out)
        }
    )
    chosen, _ = build_carry.select_wheels(files, roots, ppdev.read_name_list(HERE / "device_packages.txt"))
    wheels.mkdir(exist_ok=True)
    for w in chosen:
        (wheels / w.name).write_bytes(w.read_bytes())
    print(f"toy: device-like Python {venv} ({len(keep)} distributions linked), {len(chosen)} wheels to carry")
    return str(venv / "bin" / "python"), wheels


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("chapter", choices=("pixel", "deid"))
    ap.add_argument("--budget", type=float, default=20.0, help="time_budget_s of the chapter run")
    ap.add_argument("--workdir", default=None, help="where the toy machine lives (default: a new temp folder)")
    ap.add_argument("--wheels-from", default=None, help="carry and install the wheels of this folder")
    ap.add_argument("--device-sim", action="store_true", help="run the calls under a device-like Python")
    a = ap.parse_args(argv)
    root = Path(
        subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=HERE, capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="ppdev-toy-"))
    work.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    dev_py = py
    if a.device_sim:
        dev_py, wheels = device_like_python(work, [a.chapter])
        a.wheels_from = str(wheels)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(root / "src")] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    cmd = [py, str(HERE / "build_carry.py"), "--toy", "--out", str(work / "carry"), "--chapters", a.chapter]
    if a.wheels_from:
        cmd += ["--wheels-from", a.wheels_from]
    print("toy: build_carry", flush=True)
    if subprocess.run(cmd, cwd=root, env=env).returncode != 0:
        return 1
    dev_env = dict(
        env,
        PPDEV_TOY="1",
        PPDEV_STATE=str(work / "state"),
        PPDEV_CARRY=str(work / "carry"),
        PPSTUDY_RUNS=str(work / "device-runs"),
        PPDEV_PYTHON=dev_py,
        PPDEV_TIME_BUDGET_S=str(a.budget),
    )
    dev_env.pop("PPSTUDY_DATA", None)
    for call in (1, 2, 3):
        out = work / f"out{call}"
        print(f"toy: call {call}", flush=True)
        rc = subprocess.run(
            ["bash", str(HERE / "call.sh"), str(call), a.chapter], cwd=root, env=dict(dev_env, OUT=str(out))
        ).returncode
        if rc != 0:
            print(f"toy: call {call} failed (exit {rc}); log: {out / f'call{call}.log'}", file=sys.stderr)
            return 1
    print("toy: unpack", flush=True)
    rc = subprocess.run(
        [py, str(HERE / "unpack.py"), str(work / "out3"), a.chapter],
        cwd=root,
        env=dict(env, PPSTUDY_RUNS=str(work / "runs")),
    ).returncode
    print(f"toy: {'passed' if rc == 0 else 'FAILED'}; everything is in {work}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
