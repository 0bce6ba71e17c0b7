"""Command line: ``python -m grader <command>``; see ``--help``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser("release", help="regenerate student stubs and notebooks from solutions/")
    release.add_argument("--check", action="store_true", help="exit 1 with a diff if the release is stale")
    release.set_defaults(module="grader.release.command")

    check = commands.add_parser("check", help="run the checks on a submission and print a table per task")
    check.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: all assignments")
    check.add_argument(
        "--submission",
        default=".",
        help="folder with course_lib/ or the task files (default: this working tree; 'solutions' = reference)",
    )
    check.add_argument("--hidden", action="store_true", help="also run hidden checks (instructors)")
    check.add_argument("-k", metavar="PATTERN", help="only checks whose name or task contains PATTERN")
    check.add_argument("--json", metavar="FILE", help="write the per-check results and score as JSON")
    check.add_argument("--seed", type=int, default=0, help="seed of randomized checks (default 0)")
    check.add_argument("-v", "--verbose", action="store_true", help="list every failing check")
    check.set_defaults(module="grader.checks.run")

    references = commands.add_parser("references", help="regenerate stored reference outputs from solutions/")
    references.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: all assignments")
    references.add_argument(
        "--check", action="store_true", help="verify instead: exit 1 if they do not reproduce"
    )
    references.set_defaults(module="grader.checks.references")

    submit = commands.add_parser("submit", help="validate your work and write the zip to upload")
    submit.add_argument("assignment", metavar="ASSIGNMENT")
    submit.add_argument("--out", help="zip to write (default: ASSIGNMENT-submission.zip)")
    submit.add_argument(
        "--strict", action="store_true", help="exit 1 when there are warnings (failing checks, empty answers)"
    )
    submit.set_defaults(module="grader.autograde.submit")

    gradescope = commands.add_parser("gradescope", help="write a Gradescope autograder zip for an assignment")
    gradescope.add_argument("assignment", metavar="ASSIGNMENT")
    gradescope.add_argument("--out", help="zip to write (default: ASSIGNMENT-autograder.zip)")
    gradescope.add_argument(
        "--torch-pip-args", default="", help="pip options for torch in setup.sh (e.g. a CPU wheel index)"
    )
    gradescope.add_argument("--grade", metavar="ROOT", help=argparse.SUPPRESS)  # what run_autograder calls
    gradescope.set_defaults(module="grader.autograde.gradescope")

    autograde = commands.add_parser("autograde", help="grade uploads (zips or folders named by student id)")
    autograde.add_argument("assignment", metavar="ASSIGNMENT")
    autograde.add_argument(
        "submissions", nargs="+", metavar="SUBMISSION", help="zips/folders, or folders of them"
    )
    autograde.add_argument(
        "--out", required=True, help="grading folder (an nbgrader course: gradebook, exports)"
    )
    autograde.add_argument(
        "--workers", type=int, default=2, help="submissions graded in parallel (default 2)"
    )
    autograde.add_argument("--require-sandbox", action="store_true", help="refuse to run without bubblewrap")
    autograde.add_argument("--no-execute", action="store_true", help="do not re-run notebooks (keep outputs)")
    autograde.add_argument("--db-url", help="nbgrader gradebook URL (default: sqlite gradebook.db in --out)")
    autograde.add_argument("--force", action="store_true", help="regrade uploads already graded")
    autograde.add_argument(
        "--roster",
        metavar="CSV",
        help="class list: id, first name, last name, email (LMS export headers accepted)",
    )
    autograde.add_argument(
        "--deadline",
        metavar="WHEN",
        help="due date (e.g. '2026-03-01 23:59 UTC'): later submissions are late, as nbgrader marks them",
    )
    autograde.set_defaults(module="grader.autograde.cli")

    export = commands.add_parser(
        "export",
        help="rewrite grades.csv, feedback and Gradescope files from the gradebook (after manual grading)",
    )
    export.add_argument("assignment", metavar="ASSIGNMENT")
    export.add_argument("--out", required=True, help="the grading folder autograde wrote")
    export.add_argument("--db-url", help="nbgrader gradebook URL (default: sqlite gradebook.db in --out)")
    export.set_defaults(module="grader.autograde.export")

    bundle = commands.add_parser("bundle", help="write the student release folder (nothing hidden in it)")
    bundle.add_argument("--student", action="store_true", help="the student bundle (the only kind)")
    bundle.add_argument("--out", required=True, help="folder to create")
    bundle.set_defaults(module="grader.release.bundle")

    demo = commands.add_parser("demo", help="grade a bundled sample class end to end")
    demo.add_argument("--out", default="out/demo", help="where to write it (default out/demo)")
    demo.add_argument("--workers", type=int, default=2)
    demo.set_defaults(module="grader.demo")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Library modules log (e.g. which isolation runs student code); commands print their output.
    logging.basicConfig(level=logging.WARNING, format="grader: %(levelname)s: %(message)s")
    import torch

    # The grader's own tensor work is small; one thread per process avoids oversubscribing
    # the cores that parallel workers and the children share.
    torch.set_num_threads(1)
    # Each command's module is imported only when it runs (torch, nbgrader are slow to import).
    return importlib.import_module(args.module).main(args)


if __name__ == "__main__":
    sys.exit(main())
