"""One call of the prepared device run (runs THERE, in the checkout's root, on the device's python3).

    bash scripts/device/call.sh CALL CHAPTER [WALL_S]     # the wrapper the device tool's command calls

Call 1 stages data_batch_1/2 and the base wheels, installs the wheels, reports the environment, checks
that a notebook executes, and runs the GPU smoke (scripts/device/smoke.py). Call 2 stages data_batch_3/4
(and half of the deid wheels) and, for pixel, runs the training benchmark. Call 3 stages the rest, checks
that all seven CIFAR-10 files are there, runs the chapter within ``WALL_S`` seconds (rows in priority
order, the rest listed as not run), and packs the run directory, the log and the figures of calls 1-2
under ``$OUT``. Every call first checks that what the earlier calls staged is still there (a replaced
machine is caught in the first second) and writes ``$OUT/callN.json``.

Environment: ``OUT`` (required), ``PPDEV_STATE`` (default /tmp/ppdev: staged data, installed wheels,
figures of earlier calls), ``PPDEV_CARRY`` (default <checkout>/.devcarry), ``PPDEV_TOY=1`` (toy mode:
toy data, CPU, tiny chapter run), ``PPDEV_EPOCHS`` (``auto``, the default for pixel, or a number),
``PPDEV_BENCH=0`` (skip call 2's benchmark), ``PPDEV_POST_S``/``PPDEV_STARTUP_S`` (seconds kept for the
chapter's work after/before the training rows).
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ppdev

PROFILES = {"pixel": "paper-fast", "deid": "paper-gpu"}
#: chapter parameters of the toy run (CPU, smoke data, a tiny model)
TOY_OVERRIDES = {
    "pixel": {
        "data": "smoke",
        "n_train": 64,
        "n_test": 32,
        "epochs": 1,
        "width": 8,
        "batch_size": 8,
        "attack_counts": [10, 20],
        "device": "cpu",
    },
    "deid": {
        "data_source": "smoke",
        "n_train": 24,
        "n_test": 12,
        "n_metric": 6,
        "sizes_table2": [32, 50],
        "out_size_metrics": 48,
        "out_size_train": 48,
        "sizes_table3": [50],
        "out_sizes_table4": [48],
        "arch": "test_resnet",
        "epochs": 1,
        "batch_size": 8,
        "workers": 1,
    },
}
#: rows of the pixel chapter by the kind of network they train (Table 2 cloud rows, then Table 3 client rows)
PIXEL_ROW_KINDS = {
    "plain": "plain",
    "step2": "plain",
    "step23": "plain",
    "etc": "plain",
    "chaotic": "plain",
    "step2_adapt": "pixel_adaptation",
    "step23_adapt": "pixel_adaptation",
    "tanaka": "block_adaptation",
}
PIXEL_TABLE3 = ("step2", "step2_adapt", "tanaka")
MAX_EPOCHS = 30
MIN_EPOCHS = 8
DEID_MIN_EPOCHS = 3
#: seconds to prepare Table 6's plain row (60,000 images resized to 224) and pixel-based row (resized and
#: encrypted); estimates for 16 cores, used only to choose the epochs
DEID_RESIZE_S, DEID_PIXEL_S = 20.0, 40.0
OUT_FILE_LIMIT = 16 * ppdev.MIB
#: what the calls write to the state folder and return (calls 1-2 as files, call 3 inside run.tar.xz)
DEVICE_FIGURES = ("environment.json", "smoke.json", "smoke-deid.json", "bench.json", "call1.json", "call2.json")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Call:
    def __init__(self, call: int, chapter: str, wall: float | None):
        self.t0 = time.monotonic()
        self.started = time.time()
        self.call, self.chapter = call, chapter
        self.deadline = self.t0 + wall if wall else None
        self.root = Path.cwd()
        if not (self.root / "src" / "ppstudy").is_dir():
            raise ppdev.DeviceRunError(f"{self.root} is not the checkout's root (no src/ppstudy)")
        if "OUT" not in os.environ:
            raise ppdev.DeviceRunError("OUT is not set (the device tool sets it; the toy driver passes one)")
        self.out = Path(os.environ["OUT"])
        self.out.mkdir(parents=True, exist_ok=True)
        self.toy = os.environ.get("PPDEV_TOY") == "1"
        self.state = Path(os.environ.get("PPDEV_STATE", "/tmp/ppdev"))
        self.carry = Path(os.environ.get("PPDEV_CARRY", str(self.root / ppdev.CARRY_ROOT)))
        self.data_root = self.state / "data"
        self.site = self.state / "site"
        self.wheels = self.state / "wheels"
        self.record: dict = {"call": call, "chapter": chapter, "toy": self.toy, "steps": {}}

    # -------------------------------------------------------------------------------- helpers
    def left(self) -> float:
        return math.inf if self.deadline is None else self.deadline - time.monotonic()

    def step(self, name: str, fn, *args, **kw):
        t = time.monotonic()
        log(f"{name} ...")
        try:
            res = fn(*args, **kw)
        except Exception as e:
            self.record["steps"][name] = {"seconds": time.monotonic() - t, "ok": False, "error": str(e)}
            raise
        self.record["steps"][name] = {"seconds": round(time.monotonic() - t, 2), "ok": True}
        log(f"{name}: done in {time.monotonic() - t:.1f} s")
        return res

    def env(self) -> dict:
        env = dict(os.environ)
        paths = [str(self.site), str(self.root / "src")] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env.update(
            PYTHONPATH=os.pathsep.join(paths), PPSTUDY_DATA=str(self.data_root), PYTHONUNBUFFERED="1", MPLBACKEND="Agg"
        )
        commit = self.state / "commit.txt"
        if commit.is_file():
            sha, _, flag = commit.read_text().partition("\n")
            env["PPSTUDY_GIT_COMMIT"] = sha.strip()
            env["PPSTUDY_GIT_DIRTY"] = "1" if flag.strip() == "dirty" else "0"
        return env

    def run(self, cmd: list[str], *, timeout: float | None = None, check: bool = True) -> int:
        """Run ``cmd`` in its own process group with the staged environment; on timeout, SIGINT (so that
        the runner keeps the partial run), then SIGKILL 20 s later."""
        shown = [c if len(c) < 120 and "\n" not in c else c.split("\n")[0][:60] + " ..." for c in cmd]
        log("$ " + " ".join(shown[:14]) + (f" ... ({len(shown) - 14} more)" if len(shown) > 14 else ""))
        p = subprocess.Popen(cmd, cwd=self.root, env=self.env(), start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"time is up after {timeout:.0f} s: interrupting {cmd[0]}")
            os.killpg(p.pid, signal.SIGINT)
            try:
                rc = p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                rc = p.wait()
            rc = rc if rc else 124
        if check and rc != 0:
            raise ppdev.DeviceRunError(f"{' '.join(cmd[:4])} ... exited with {rc}")
        return rc

    # -------------------------------------------------------------------------------- staging
    def check_earlier_calls(self) -> None:
        for k in range(1, self.call):
            for name in ppdev.CALL_FOLDERS[self.chapter][k]:
                if not (self.state / f"staged-{name}.json").is_file():
                    raise ppdev.DeviceRunError(
                        f"what call {k} staged ({name}) is not on this machine: the machine was replaced or "
                        f"call {k} failed. Start again from call 1 (a fresh machine needs all three calls)"
                    )

    def stage(self) -> None:
        for name in ppdev.CALL_FOLDERS[self.chapter][self.call]:
            folder = self.carry / name
            man_path = folder / ppdev.MANIFEST
            if not man_path.is_file():
                raise ppdev.DeviceRunError(
                    f"{folder} is not here: the call's carry must name "
                    f"{ppdev.CARRY_ROOT}/{name} (built by scripts/device/build_carry.py)"
                )
            man = ppdev.read_json(man_path)
            official = bool(man.get("official"))
            if "data" in man and not official and not self.toy:
                raise ppdev.DeviceRunError(f"{folder} holds toy data (built with --toy); rebuild it with real CIFAR-10")
            dest_dir = self.data_root / ppdev.CIFAR_SUBDIR

            def one(item, dest_dir=dest_dir, folder=folder, official=official):
                f, rec = item
                dest = dest_dir / f
                if dest.is_file() and dest.stat().st_size == rec["bytes"] and ppdev.md5_file(dest) == rec["md5"]:
                    return f, 0.0
                return f, ppdev.xz_decompress_verified(
                    folder / rec["file"], dest, rec["md5"], official=ppdev.OFFICIAL_MD5[f] if official else None
                )

            staged = {}
            with ThreadPoolExecutor(3) as ex:
                for f, dt in ex.map(one, sorted(man.get("data", {}).items())):
                    staged[f] = {
                        "md5": man["data"][f]["md5"],
                        "md5_checked_against": "official list and manifest" if official else "toy manifest",
                        "seconds": round(dt, 2),
                    }
                    log(f"  {f}: md5 verified ({staged[f]['md5_checked_against']})")
            wheels = []
            if "wheels" in man:
                wheels = [p.name for p in ppdev.unpack_wheels(folder / man["wheels"]["file"], self.wheels)]
                log(f"  {len(wheels)} wheels rebuilt from {man['wheels']['file']}")
            cache = folder / "cache"
            copied = []
            if cache.is_dir():
                for src in cache.rglob("*"):
                    if src.is_file():
                        dest = self.data_root / src.relative_to(cache)
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(src, dest)
                        copied.append(str(src.relative_to(cache)))
            if (folder / "commit.txt").is_file():
                shutil.copy2(folder / "commit.txt", self.state / "commit.txt")
            ppdev.write_json(self.state / f"staged-{name}.json", {"data": staged, "wheels": wheels, "cache": copied})
            self.record.setdefault("staged", {})[name] = {"data": staged, "wheels": len(wheels), "cache": copied}

    def install(self) -> None:
        wheels = sorted(self.wheels.glob("*.whl")) if self.wheels.is_dir() else []
        done_path = self.state / "installed.json"
        done = set(ppdev.read_json(done_path)) if done_path.is_file() else set()
        todo = [w for w in wheels if w.name not in done]
        if not todo:
            log("  no new wheels to install")
            return
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--no-compile",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--upgrade",
            "--target",
            str(self.site),
        ]
        self.run(cmd + [str(w) for w in todo], timeout=180)
        ppdev.write_json(done_path, sorted(done | {w.name for w in todo}))
        self.record["installed"] = [w.name for w in todo]

    # -------------------------------------------------------------------------------- checks
    def environment(self) -> None:
        code = (
            "import json, os, platform, sys\n"
            "from importlib import metadata\n"
            "info = {'python': sys.version.split()[0], 'executable': sys.executable, 'cpus': os.cpu_count(),\n"
            "        'platform': platform.platform()}\n"
            "for n in ('torch', 'torchvision', 'timm', 'numpy', 'scipy', 'pandas', 'scikit-image', 'scikit-learn',\n"
            "          'matplotlib', 'papermill', 'jupytext', 'nbformat', 'nbclient', 'ipykernel', 'jupyter-client',\n"
            "          'pyzmq', 'tornado', 'pyope', 'vtracer', 'resvg-py', 'mini-racer', 'packaging', 'psutil'):\n"
            "    try:\n        info[n] = metadata.version(n)\n    except metadata.PackageNotFoundError:\n"
            "        info[n] = None\n"
            "try:\n    import torch\n    info['cuda'] = torch.cuda.is_available()\n"
            "    info['gpu'] = torch.cuda.get_device_name(0) if info['cuda'] else None\n"
            "except Exception as e:\n    info['torch_error'] = repr(e)\n"
            f"json.dump(info, open({str(self.state / 'environment.json')!r}, 'w'), indent=2)\n"
            "print(json.dumps(info))\n"
        )
        self.run([sys.executable, "-c", code], timeout=120)
        if shutil.which("nvidia-smi"):
            subprocess.run(
                [
                    "nvidia-smi",
                    "--query-gpu=name,memory.total,driver_version,clocks.sm,temperature.gpu",
                    "--format=csv",
                ],
                check=False,
            )

    def requirements(self) -> None:
        """Every installed carried distribution's requirements, checked against what the device has."""
        code = (
            "import json, sys\nfrom importlib import metadata\n"
            "from packaging.requirements import Requirement\n"
            f"site = {str(self.site)!r}\noptional = {{'debugpy', 'jedi', 'parso'}}\nproblems = []\n"
            "for d in metadata.distributions(path=[site]):\n"
            "    for r in d.requires or []:\n"
            "        r = Requirement(r)\n"
            "        if r.marker is not None and not r.marker.evaluate({'extra': ''}):\n            continue\n"
            "        name = r.name.lower().replace('_', '-')\n"
            "        if name in optional:\n            continue\n"
            "        try:\n            v = metadata.version(r.name)\n"
            "        except metadata.PackageNotFoundError:\n"
            "            problems.append(f\"{d.metadata['Name']}: needs {r}, missing\")\n            continue\n"
            "        if r.specifier and not r.specifier.contains(v, prereleases=True):\n"
            "            problems.append(f\"{d.metadata['Name']}: needs {r}, found {v}\")\n"
            "print('requirements:', 'all met' if not problems else '; '.join(problems))\n"
            "sys.exit(1 if problems else 0)\n"
        )
        rc = self.run([sys.executable, "-c", code], check=False, timeout=60)
        self.record["requirements_met"] = rc == 0

    def kernel(self) -> None:
        """A two-cell notebook through papermill and the python3 kernel (what `ppstudy run` does)."""
        import json

        nb = {
            "cells": [
                {
                    "cell_type": "code",
                    "id": "params",
                    "metadata": {"tags": ["parameters"]},
                    "source": "x = 1",
                    "outputs": [],
                    "execution_count": None,
                },
                {
                    "cell_type": "code",
                    "id": "check",
                    "metadata": {},
                    "source": "import numpy, torch\nprint('kernel ok', x + 1)",
                    "outputs": [],
                    "execution_count": None,
                },
            ],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        src = self.state / "kernel_check.ipynb"
        src.write_text(json.dumps(nb))
        code = (
            "import papermill as pm, jupytext, nbformat\n"
            f"pm.execute_notebook({str(src)!r}, {str(self.state / 'kernel_check.out.ipynb')!r}, "
            "parameters={'x': 41}, kernel_name='python3', progress_bar=False)\n"
            f"nb = nbformat.read({str(self.state / 'kernel_check.out.ipynb')!r}, as_version=4)\n"
            "text = ''.join(o.get('text', '') for c in nb.cells for o in c.get('outputs', []))\n"
            "assert 'kernel ok 42' in text, text\nprint('notebook executed: kernel ok 42')\n"
        )
        self.run([sys.executable, "-c", code], timeout=120)

    def smoke(self) -> None:
        cmd = [sys.executable, "scripts/device/smoke.py", self.chapter, "--json", str(self.state / "smoke.json")]
        self.run(cmd + (["--toy"] if self.toy else []), timeout=None if self.toy else 240)

    def deidentify_smoke(self) -> None:
        cmd = [
            sys.executable,
            "scripts/device/smoke.py",
            "deid",
            "--part",
            "deidentify",
            "--json",
            str(self.state / "smoke-deid.json"),
        ]
        self.run(cmd + (["--toy"] if self.toy else []), timeout=None if self.toy else 240)

    def bench(self) -> None:
        if os.environ.get("PPDEV_BENCH", "1") == "0" or self.chapter != "pixel":
            log("  benchmark skipped")
            return
        cmd = [sys.executable, "benchmarks/bench_train.py", "--json", str(self.state / "bench.json")]
        cmd += (
            ["--device", "cpu", "--steps", "2", "--warmup", "1", "--batch", "16", "--width", "8"]
            if self.toy
            else ["--steps", "50"]
        )
        if os.environ.get("PPDEV_BENCH_COMPILE") == "1":
            cmd.append("--compile")
        self.run(cmd, timeout=180 if self.deadline is None else max(30.0, self.left() - 10))

    # -------------------------------------------------------------------------------- call 3
    def all_data(self) -> None:
        d = self.data_root / ppdev.CIFAR_SUBDIR
        missing = [f for f in ppdev.OFFICIAL_MD5 if not (d / f).is_file()]
        if missing:
            raise ppdev.DeviceRunError(f"not staged: {', '.join(missing)}; start again from call 1")

    def pixel_epochs(self, budget: float, prm: dict) -> int:
        want = os.environ.get("PPDEV_EPOCHS", "auto")
        if want != "auto":
            return int(want)
        smoke = self.state / "smoke.json"
        if not smoke.is_file():
            log(f"  no smoke figures: the profile's {prm['epochs']} epochs")
            return int(prm["epochs"])
        if not math.isfinite(budget):
            return int(prm["epochs"])
        cfg = ppdev.read_json(smoke)["configs"]
        rows = list(prm.get("rows") or PIXEL_ROW_KINDS) + (list(PIXEL_TABLE3) if prm.get("table3", True) else [])
        per_epoch = sum(cfg[PIXEL_ROW_KINDS[r]]["s_epoch_50k"] + cfg[PIXEL_ROW_KINDS[r]]["eval_s_10k"] for r in rows)
        fixed = sum(
            cfg[PIXEL_ROW_KINDS[r]]["overhead_s"] + cfg[PIXEL_ROW_KINDS[r]]["first_epoch_extra_s"] + 2.0 for r in rows
        )
        e = int((0.9 * budget - fixed) // per_epoch) if per_epoch > 0 else MAX_EPOCHS
        e = max(MIN_EPOCHS, min(MAX_EPOCHS, e))
        log(
            f"  {len(rows)} rows at {per_epoch:.1f} s per epoch of all rows (+{fixed:.0f} s) in {budget:.0f} s: "
            f"{e} epochs"
        )
        return e

    def deid_epochs(self, budget: float, prm: dict) -> int:
        """Epochs that let Table 6's three rows (the paper's main claim) finish in ``budget``: each row
        de-identifies or resizes the 60,000 images, then trains; later rows run if time is left."""
        want = os.environ.get("PPDEV_EPOCHS", "auto")
        if want != "auto":
            return int(want)
        gpu, cpu = self.state / "smoke.json", self.state / "smoke-deid.json"
        if not gpu.is_file():
            log(f"  no smoke figures: the profile's {prm['epochs']} epochs")
            return int(prm["epochs"])
        if not math.isfinite(budget):
            return int(prm["epochs"])
        c = ppdev.read_json(gpu)["configs"]["classifier"]
        ips = ppdev.read_json(cpu)["deid"]["images_per_s"] if cpu.is_file() else 1000.0
        prep = DEID_RESIZE_S + DEID_PIXEL_S + 60000 / ips  # plain, pixel-based, de-identified
        per_epoch = 3 * (c["s_epoch_50k"] + c["eval_s_10k"])
        fixed = prep + 3 * (c["overhead_s"] + c["first_epoch_extra_s"] + 5.0)
        e = int((0.9 * budget - fixed) // per_epoch) if per_epoch > 0 else MAX_EPOCHS
        e = max(DEID_MIN_EPOCHS, min(MAX_EPOCHS, e))
        log(
            f"  Table 6: 3 rows at {per_epoch:.0f} s per epoch of all three (+{fixed:.0f} s preparing) in "
            f"{budget:.0f} s: {e} epochs"
        )
        return e

    def chapter_run(self) -> Path:
        import yaml  # on the device image and here

        profile = PROFILES[self.chapter]
        prm = yaml.safe_load((self.root / "book" / "params" / self.chapter / f"{profile}.yml").read_text()) or {}
        over: dict = dict(TOY_OVERRIDES[self.chapter]) if self.toy else {}
        post = float(os.environ.get("PPDEV_POST_S", {"pixel": 45, "deid": 90}[self.chapter]))
        startup = float(os.environ.get("PPDEV_STARTUP_S", {"pixel": 30, "deid": 150}[self.chapter]))
        pack = 20.0
        if "PPDEV_TIME_BUDGET_S" in os.environ:
            over["time_budget_s"] = float(os.environ["PPDEV_TIME_BUDGET_S"])
        elif self.deadline is not None:
            budget = self.left() - pack - post - startup
            if budget < 30:
                raise ppdev.DeviceRunError(f"only {self.left():.0f} s left: too little for the chapter run")
            over["time_budget_s"] = round(budget)
        if not self.toy:
            epochs = self.pixel_epochs if self.chapter == "pixel" else self.deid_epochs
            over["epochs"] = epochs(over.get("time_budget_s", math.inf), prm)
        if not self.toy:
            self.checkpoints_in_memory()
        self.record["chapter_overrides"] = over
        cmd = [
            sys.executable,
            "-c",
            "import logging, sys; logging.basicConfig(level=logging.INFO, format='%(message)s', "
            "stream=sys.stdout); from ppstudy.cli import main; sys.exit(main(sys.argv[1:]))",
            "run",
            self.chapter,
            "--profile",
            profile,
            "--log-output",
        ]
        for k, v in over.items():
            cmd += ["-p", k, _yaml_literal(v)]
        timeout = None if self.deadline is None else max(10.0, self.left() - pack)
        rc = self.run(cmd, timeout=timeout, check=False)
        self.record["chapter_exit"] = rc
        runs = Path(os.environ["PPSTUDY_RUNS"]) if os.environ.get("PPSTUDY_RUNS") else self.root / "runs"
        final = runs / self.chapter / profile
        if rc == 0 and (final / "results.json").is_file():
            return final
        # a failed or interrupted run: the runner keeps it as <profile>.failed (or .<profile>.partial)
        for cand in (final.with_name(f"{profile}.failed"), final.with_name(f".{profile}.partial")):
            if cand.is_dir() and cand.stat().st_mtime >= self.started:
                return cand
        raise ppdev.DeviceRunError(f"the chapter run left no run directory under {final.parent} (exit {rc})")

    def checkpoints_in_memory(self) -> None:
        """Training checkpoints (written after every epoch) go to RAM: the machine keeps nothing anyway."""
        shm = Path("/dev/shm")
        if not (shm.is_dir() and os.access(shm, os.W_OK)):
            return
        link = self.root / "runs" / ".checkpoints"
        target = shm / "ppdev-checkpoints"
        target.mkdir(exist_ok=True)
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.is_dir():
            shutil.rmtree(link)
        link.symlink_to(target)

    def pack(self, run_dir: Path) -> None:
        """The run directory, with the figures of every call under ``device/``, as ``$OUT/run.tar.xz``
        (split into ``run.tar.xz.00``, ``.01``, ... of 15 MiB when it is larger than the 16 MiB a returned
        file may be; the tool returns at most 8 files: up to 6 parts, call3.json and call3.log)."""
        dest = self.out / "run.tar.xz"
        with tarfile.open(dest, "w:xz", preset=6) as tar:
            # the run is a link to its staged directory (ppstudy.pipeline.execute): pack the directory itself
            tar.add(run_dir.resolve(), arcname="run", filter=lambda ti: None if ".checkpoints" in ti.name else ti)
            for name in DEVICE_FIGURES:
                if (self.state / name).is_file():
                    tar.add(self.state / name, arcname=f"run/device/{name}")
        size = dest.stat().st_size
        parts = [dest]
        if size > OUT_FILE_LIMIT:
            data = dest.read_bytes()
            dest.unlink()
            chunk = OUT_FILE_LIMIT - ppdev.MIB
            parts = []
            for i in range(0, len(data), chunk):
                part = self.out / f"run.tar.xz.{i // chunk:02d}"
                part.write_bytes(data[i : i + chunk])
                parts.append(part)
            if len(parts) > 6:
                raise ppdev.DeviceRunError(f"the packed run is {size / ppdev.MIB:.0f} MiB: more than 6 parts of 15 MiB")
        self.record["packed"] = {
            "from": str(run_dir.relative_to(self.root) if run_dir.is_relative_to(self.root) else run_dir),
            "bytes": size,
            "status": run_dir.name,
            "files": [p.name for p in parts],
        }
        log(f"  {', '.join(p.name for p in parts)}: {size / ppdev.MIB:.2f} MiB from {run_dir.name}")

    # -------------------------------------------------------------------------------- main
    def main(self) -> int:
        rc = 0
        try:
            self.step("check earlier calls", self.check_earlier_calls)
            self.step("stage", self.stage)
            self.step("install wheels", self.install)
            if self.call == 1:
                self.step("environment", self.environment)
                self.step("requirements", self.requirements)
                self.step("notebook", self.kernel)
                self.step("smoke", self.smoke)
            elif self.call == 2:
                if self.chapter == "deid":
                    self.step("de-identification throughput", self.deidentify_smoke)
                else:
                    self.step("benchmark", self.bench)
            else:
                self.step("all data", self.all_data)
                run_dir = self.step("chapter", self.chapter_run)
                self.step("pack", self.pack, run_dir)
                if self.record.get("chapter_exit"):
                    rc = 1
        except ppdev.DeviceRunError as e:
            log(f"FAILED: {e}")
            self.record["error"] = str(e)
            rc = 2
        finally:
            self.record["seconds"] = round(time.monotonic() - self.t0, 1)
            ppdev.write_json(self.state / f"call{self.call}.json", self.record)
            # calls 1 and 2 return their figures as files; call 3 has them in run.tar.xz (device/)
            for name in DEVICE_FIGURES if self.call < 3 else ("call3.json",):
                if (self.state / name).is_file():
                    shutil.copy2(self.state / name, self.out / name)
            log(
                f"call {self.call} ({self.chapter}) {'done' if rc == 0 else 'FAILED'} in {self.record['seconds']:.0f} s"
            )
        return rc


def _yaml_literal(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yaml_literal(x) for x in v) + "]"
    return str(v)


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="one call of the prepared device run")
    ap.add_argument("call", type=int, choices=(1, 2, 3))
    ap.add_argument("chapter", choices=tuple(PROFILES))
    ap.add_argument("wall", nargs="?", type=float, default=None, help="seconds this call may take (call 3)")
    a = ap.parse_args(argv)
    try:
        return Call(a.call, a.chapter, a.wall).main()
    except ppdev.DeviceRunError as e:
        print(f"device_call: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
