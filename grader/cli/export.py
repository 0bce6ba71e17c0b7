"""``python -m grader export ASSIGNMENT --out DIR``: regenerate the exports from the gradebook.

Run it after grading by hand in formgrader: ``exports/grades.csv`` then has the manual scores, and
the feedback and Gradescope files are rewritten from ``results/`` (nothing is regraded).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader import paths
from grader.autograde import reports
from grader.autograde.batch import export


def main(args: Any) -> int:
    out = Path(args.out)
    if args.assignment not in paths.ASSIGNMENT_NAMES:
        print(f"unknown assignment {args.assignment!r}")
        return 2
    if not (out / "results").is_dir():
        print(f"{out} is not a grading folder (no results/): run python -m grader autograde first")
        return 2
    results = export(out, args.assignment, args.db_url)
    print(f"{len(results)} students exported to {reports.exports(out)} (grades: {reports.grades_csv(out)})")
    return 0
