"""``python -m grader carry-over FROM TO``: copy the task files you changed in FROM into TO
(see :mod:`grader.student.carry_over`)."""

from __future__ import annotations

from typing import Any

from grader import paths
from grader.student.carry_over import carry_over, report
from grader.student.workspace import from_argument


def main(args: Any) -> int:
    try:
        source, target = from_argument(args.source), from_argument(args.target)
    except ValueError as error:
        print(error)
        return 2
    if source.task_dir.resolve() == target.task_dir.resolve():
        print(f"{args.source} and {args.target} share {source.task_dir}: nothing to carry over")
        return 2
    for workspace in (source, target):
        if not workspace.task_dir.is_dir():
            print(f"no course_lib/ found for {workspace.assignment} (looked in {workspace.task_dir})")
            return 2
    if source.task_dir.resolve().is_relative_to(paths.SOLUTIONS.resolve()):
        print("carry-over copies your own work, not the reference solutions")
        return 2
    outcome = carry_over(source, target, force=args.force)
    print(report(source, target, outcome))
    return 1 if outcome.refused or outcome.problems else 0
