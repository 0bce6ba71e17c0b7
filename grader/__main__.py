"""Command line: ``python -m grader <command>``; see ``--help``."""

from __future__ import annotations

import argparse
import sys


def _release(args: argparse.Namespace) -> int:
    from grader.release.command import run

    return run(check=args.check)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser("release", help="regenerate student stubs and notebooks from solutions/")
    release.add_argument("--check", action="store_true", help="exit 1 with a diff if the release is stale")
    release.set_defaults(run=_release)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
