"""``python -m grader submit ASSIGNMENT``: validate the student's work, then write the zip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.student import submit


def main(args: Any) -> int:
    problems = submit.validate(args.assignment)
    if problems:
        print("cannot submit yet:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    notes = submit.warnings(args.assignment)
    out = Path(args.out or f"{args.assignment}-submission.zip")
    submit.build(args.assignment, out)
    print(f"wrote {out} — upload this file; it contains:")
    for name, path in submit.submission_files(args.assignment).items():
        print(f"  {name}  (from {path})")
    if notes:
        print(f"\nwarning: {len(notes)} thing(s) you may want to fix first (then run submit again):")
        for note in notes:
            print(f"  - {note}")
    return 1 if notes and args.strict else 0
