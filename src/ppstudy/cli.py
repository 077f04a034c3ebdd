"""``ppstudy`` command line: list, run, publish, book, notebooks, figures, checkpoints.

Errors a user can fix (unknown chapter or parameter, wrong type, missing data, a failed chapter) print one
line to stderr and exit with code 2. Output into a closed pipe (``ppstudy list | head``) ends quietly.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
import threading
from pathlib import Path

from ppstudy import PPStudyError, __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own code for usage errors)
        print(f"ppstudy: error: {message}", file=sys.stderr)
        sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ppstudy", description="Run, publish and build the ppstudy book.")
    p.add_argument("--version", action="version", version=f"ppstudy {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    sub.add_parser("list", help="list the chapters, their profiles and published runs")

    r = sub.add_parser("run", help="execute one chapter with papermill")
    r.add_argument("chapter")
    r.add_argument("--profile", default="smoke", help="smoke (default), quick, paper, or a chapter's extra profile")
    r.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override a parameter (value read as YAML: 30, 0.1, true, [1, 2], text)",
    )
    r.add_argument("--log-output", action="store_true", help="stream the notebook's output")

    pub = sub.add_parser("publish", help="copy a finished run into results/ (what the book renders)")
    pub.add_argument("chapter")
    pub.add_argument("--profile", required=True)
    pub.add_argument("--main", action="store_true", help="make it the run the chapter's page shows")

    b = sub.add_parser("book", help="build the HTML book from the published runs (or execute a profile)")
    b.add_argument(
        "--profile",
        default=None,
        help="execute every chapter in this profile first (e.g. smoke); default: render the published runs in results/",
    )
    b.add_argument("--reuse", action="store_true", help="with --profile: reuse finished runs")
    b.add_argument("--strict", action="store_true", help="turn Sphinx warnings into errors")
    b.add_argument("--no-check", action="store_true", help="skip the checks of the built pages (bookcheck)")

    n = sub.add_parser("notebooks", help="export the chapters as .ipynb for plain papermill / Colab")
    n.add_argument("--out", default="notebooks", help="output directory (default: notebooks/)")

    f = sub.add_parser("figures", help="regenerate a chapter's figures from its finished or published run")
    f.add_argument("chapter")
    f.add_argument("--profile", default="smoke")
    f.add_argument("--published", action="store_true", help="redraw the published run in results/")

    c = sub.add_parser("checkpoints", help="list or remove training checkpoints")
    c.add_argument("action", choices=("list", "clean"))
    c.add_argument("chapter", nargs="?", help="only this chapter's checkpoints")
    c.add_argument("--keep", default="", help="clean: keep checkpoints whose tag contains this text")
    return p


def _terminate(signum, frame):
    """SIGTERM ends a command as Ctrl-C does: through the ``finally`` blocks, so that a chapter run shuts its
    kernel down (with the kernel's process group: its worker processes and tracers) and keeps its partial
    notebook, instead of dying and leaving them running."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        code = _dispatch(args)
        sys.stdout.flush()
        return code
    except PPStudyError as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        print("ppstudy: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`ppstudy list | head`): stop quietly, as other command-line tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
            return _fail(f"cannot write: {e.strerror}" + (f" ({e.filename})" if e.filename else ""))
        raise


def _fail(message: str) -> int:
    with contextlib.suppress(OSError):
        print(f"ppstudy: error: {message}", file=sys.stderr)
    return 2


def _dispatch(args) -> int:
    from ppstudy.pipeline import execute, figures, publish
    from ppstudy.pipeline.params import parse_override
    from ppstudy.project import chapters, paths
    from ppstudy.project.profiles import profiles

    if args.cmd == "list":
        root = paths.project_root()
        index = publish.published_index(root)
        for ch in chapters.CHAPTERS.values():
            pub = index.get(ch.name, {})
            shown = f"  [published: {', '.join(pub.get('runs', []))}; book shows {pub['main']}]" if pub else ""
            print(f"{ch.name:6s} {ch.title}  [profiles: {', '.join(profiles(ch, root))}]{shown}")
        return 0
    if args.cmd == "run":
        chapters.get(args.chapter)
        overrides = {name: parse_override(value) for name, value in args.param}
        out = execute.run(args.chapter, args.profile, overrides, log_output=args.log_output)
        print(f"ppstudy: {args.chapter} [{args.profile}] done: {out}")
        return 0
    if args.cmd == "publish":
        chapters.get(args.chapter)
        paths.runs_root(must_exist=True)
        dest = publish.publish(args.chapter, args.profile, main=args.main or None)
        print(f"ppstudy: published {args.chapter} [{args.profile}] in {dest}")
        return 0
    if args.cmd == "book":
        from ppstudy.site.build import build_book

        page = build_book(args.profile, rerun=not args.reuse, strict=args.strict, check=not args.no_check)
        print(f"ppstudy: the book is at {page}")
        return 0
    if args.cmd == "notebooks":
        for path in execute.export_notebooks(Path(args.out).resolve()):
            print(path)
        return 0
    if args.cmd == "figures":
        chapters.get(args.chapter)
        paths.check_profile(args.profile)
        if not args.published:
            paths.runs_root(must_exist=True)
        src = publish.published_run(args.chapter, profile=args.profile) if args.published else None
        if src is not None:  # redrawing writes figures: into results/, wherever a link there points
            paths.inside(src, paths.published_root(), "redraw figures into")
        for path in figures.regenerate_figures(args.chapter, args.profile, source=src):
            print(path)
        return 0
    if args.cmd == "checkpoints":
        return _checkpoints(args)
    raise AssertionError(args.cmd)  # pragma: no cover


def _checkpoints(args) -> int:
    import time

    from ppstudy.project import chapters, paths
    from ppstudy.train import list_checkpoints

    paths.runs_root(must_exist=True)
    top = paths.checkpoints_root()
    base = top
    if args.chapter:
        chapters.get(args.chapter)
        base = base / args.chapter
    found = list_checkpoints(base)
    if args.action == "list":
        for r in found:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["modified"]))
            print(
                f"{r['path'].relative_to(paths.checkpoints_root())}  tag={r['tag']}  "
                f"epochs={r['epochs_done']}/{r['epochs']}  {r['bytes'] / 1e6:.1f} MB  {when}"
            )
        print(f"{len(found)} checkpoint(s) under {base}")
        return 0
    drop = [r["path"] for r in found if not (args.keep and args.keep in str(r["tag"]))]
    for path in drop:  # all checked before any is removed: nothing outside runs/.checkpoints/, whatever links say
        if not path.is_symlink():
            paths.inside(path, top, "remove the checkpoint")
    removed = 0
    for path in drop:
        paths.remove(path, top)
        removed += 1
    print(f"removed {removed} checkpoint(s) under {base}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
