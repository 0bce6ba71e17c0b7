"""``python -m grader gradescope ASSIGNMENT``: write a Gradescope autograder zip (``--grade``: what
its ``run_autograder`` calls inside Gradescope's container)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.autograde.gradescope import grade, package


def main(args: Any) -> int:
    if args.grade:
        result = grade(args.assignment, Path(args.grade))
        print(f"{result['score']:g}/{result['max_score']:g}")
        return 0
    out = package(args.assignment, Path(args.out or f"{args.assignment}-autograder.zip"), args.torch_pip_args)
    print(f"wrote {out}: upload it as the assignment's Gradescope autograder")
    return 0
