"""``python -m grader demo``: grade the bundled sample class and print the grade table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.cli.autograde import print_table
from grader.demo import run


def main(args: Any) -> int:
    results, course = run(Path(args.out), args.workers)
    print_table(results, course)
    return 0
