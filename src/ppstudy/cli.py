"""``ppstudy`` command line: list, run, book, notebooks, figures.

Errors a user can fix (unknown chapter or parameter, wrong type, missing data, a failed chapter) print one
line to stderr and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ppstudy import PPStudyError, __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own code for usage errors)
        print(f"ppstudy: error: {message}", file=sys.stderr)
        sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ppstudy", description="Run and build the ppstudy book.")
    p.add_argument("--version", action="version", version=f"ppstudy {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    sub.add_parser("list", help="list the chapters and their profiles")

    r = sub.add_parser("run", help="execute one chapter with papermill")
    r.add_argument("chapter")
    r.add_argument("--profile", default="smoke", help="smoke (default), quick, paper, or a chapter's extra profile")
    r.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="override a parameter (value read as YAML: 30, 0.1, true, [1, 2], text)")
    r.add_argument("--log-output", action="store_true", help="stream the notebook's output")

    b = sub.add_parser("book", help="execute every chapter and build the HTML book")
    b.add_argument("--profile", default="smoke")
    b.add_argument("--reuse", action="store_true", help="reuse finished runs instead of executing again")
    b.add_argument("--strict", action="store_true", help="turn Sphinx warnings into errors")

    n = sub.add_parser("notebooks", help="export the chapters as .ipynb for plain papermill / Colab")
    n.add_argument("--out", default="notebooks", help="output directory (default: notebooks/)")

    f = sub.add_parser("figures", help="regenerate a chapter's figures from its finished run")
    f.add_argument("chapter")
    f.add_argument("--profile", default="smoke")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except PPStudyError as e:
        print(f"ppstudy: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ppstudy: interrupted", file=sys.stderr)
        return 130


def _dispatch(args) -> int:
    from ppstudy import chapters, runner
    from ppstudy.params import parse_override, profiles

    if args.cmd == "list":
        root = chapters.project_root()
        for ch in chapters.CHAPTERS.values():
            print(f"{ch.name:6s} {ch.title}  [profiles: {', '.join(profiles(ch, root))}]")
        return 0
    if args.cmd == "run":
        chapters.get(args.chapter)
        overrides = {}
        for name, value in args.param:
            overrides[name] = parse_override(value)
        out = runner.run(args.chapter, args.profile, overrides, log_output=args.log_output)
        print(f"ppstudy: {args.chapter} [{args.profile}] done: {out}")
        return 0
    if args.cmd == "book":
        index = runner.build_book(args.profile, rerun=not args.reuse, strict=args.strict)
        print(f"ppstudy: the book is at {index}")
        return 0
    if args.cmd == "notebooks":
        for path in runner.export_notebooks(Path(args.out).resolve()):
            print(path)
        return 0
    if args.cmd == "figures":
        for path in runner.regenerate_figures(args.chapter, args.profile):
            print(path)
        return 0
    raise AssertionError(args.cmd)  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
