"""The arguments of every command, one function per command (imports nothing heavy).

Student commands: ``check``, ``submit``, ``carry-over``. Instructor commands: ``release``, ``references``,
``bundle``, ``autograde``, ``export``, ``gradescope``, ``demo``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Parser = argparse.ArgumentParser


def check(parser: Parser) -> None:
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: all assignments")
    parser.add_argument(
        "--submission",
        help="folder with course_lib/ or the task files (default: the named assignment's folder, found from "
        "here, else this folder; 'solutions' = reference)",
    )
    parser.add_argument("--hidden", action="store_true", help="also run hidden checks (instructors)")
    parser.add_argument("-k", metavar="PATTERN", help="only checks whose name or task contains PATTERN")
    parser.add_argument("--json", metavar="FILE", help="write the per-check results and score as JSON")
    parser.add_argument("--seed", type=int, default=0, help="seed of randomized checks (default 0)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every failing check")


def submit(parser: Parser) -> None:
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    parser.add_argument("--out", help="zip to write (default: ASSIGNMENT-submission.zip)")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when there are warnings (failing checks, empty answers)"
    )


def carry_over(parser: Parser) -> None:
    parser.add_argument("source", metavar="FROM", help="assignment (or its folder) to copy your files from")
    parser.add_argument("target", metavar="TO", help="assignment (or its folder) to copy them into")
    parser.add_argument("--force", action="store_true", help="overwrite files you already changed in TO")


def release(parser: Parser) -> None:
    parser.add_argument("--check", action="store_true", help="exit 1 with a diff if the release is stale")


def references(parser: Parser) -> None:
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: all assignments")
    parser.add_argument(
        "--check", action="store_true", help="verify instead: exit 1 if they do not reproduce"
    )


def bundle(parser: Parser) -> None:
    parser.add_argument("--student", action="store_true", help="the student bundle (the only kind)")
    parser.add_argument("--out", required=True, help="folder to create")


def autograde(parser: Parser) -> None:
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    parser.add_argument(
        "submissions", nargs="+", metavar="SUBMISSION", help="zips/folders, or folders of them"
    )
    parser.add_argument(
        "--out", required=True, help="grading folder (an nbgrader course: gradebook, exports)"
    )
    parser.add_argument("--workers", type=int, default=2, help="submissions graded in parallel (default 2)")
    parser.add_argument("--require-sandbox", action="store_true", help="refuse to run without bubblewrap")
    parser.add_argument("--no-execute", action="store_true", help="do not re-run notebooks (keep outputs)")
    parser.add_argument("--db-url", help="nbgrader gradebook URL (default: sqlite gradebook.db in --out)")
    parser.add_argument("--force", action="store_true", help="regrade uploads already graded")
    parser.add_argument(
        "--roster",
        metavar="CSV",
        help="class list: id, first name, last name, email (LMS export headers accepted)",
    )
    parser.add_argument(
        "--deadline",
        metavar="WHEN",
        help="due date (e.g. '2026-03-01 23:59 UTC'): later submissions are late, as nbgrader marks them",
    )


def export(parser: Parser) -> None:
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    parser.add_argument("--out", required=True, help="the grading folder autograde wrote")
    parser.add_argument("--db-url", help="nbgrader gradebook URL (default: sqlite gradebook.db in --out)")


def gradescope(parser: Parser) -> None:
    parser.add_argument("assignment", metavar="ASSIGNMENT")
    parser.add_argument("--out", help="zip to write (default: ASSIGNMENT-autograder.zip)")
    parser.add_argument(
        "--torch-pip-args", default="", help="pip options for torch in setup.sh (e.g. a CPU wheel index)"
    )
    parser.add_argument("--grade", metavar="ROOT", help=argparse.SUPPRESS)  # what run_autograder calls


def demo(parser: Parser) -> None:
    parser.add_argument("--out", default="out/demo", help="where to write it (default out/demo)")
    parser.add_argument("--workers", type=int, default=2)


#: Every command: its arguments and its one-line help, in the order ``--help`` lists them.
COMMANDS: dict[str, tuple[Callable[[Parser], None], str]] = {
    "check": (check, "run the checks on a submission and print a table per task"),
    "submit": (submit, "validate your work and write the zip to upload"),
    "carry-over": (
        carry_over,
        "copy your own task files from an earlier assignment's folder into a later one's",
    ),
    "release": (release, "regenerate student stubs and notebooks from solutions/"),
    "references": (references, "regenerate stored reference outputs from solutions/"),
    "bundle": (bundle, "write the student release folder (nothing hidden in it)"),
    "autograde": (autograde, "grade uploads (zips or folders named by student id)"),
    "export": (
        export,
        "rewrite grades.csv, feedback and Gradescope files from the gradebook (after manual grading)",
    ),
    "gradescope": (gradescope, "write a Gradescope autograder zip for an assignment"),
    "demo": (demo, "grade a bundled sample class end to end"),
}


def build_parser() -> Parser:
    parser = argparse.ArgumentParser(prog="python -m grader", description="Checks, release and autograding.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (add_arguments, help_text) in COMMANDS.items():
        add_arguments(commands.add_parser(name, help=help_text))
    return parser
