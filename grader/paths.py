"""Where things live in this repository. Every other module asks here."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COURSE_LIB = REPO / "course_lib"
SOLUTIONS = REPO / "solutions"
SOLUTION_LIB = SOLUTIONS / "course_lib"
ASSIGNMENTS = REPO / "assignments"
GRADER = REPO / "grader"
REFERENCE = GRADER / "reference"

#: Modules of ``course_lib`` that ship complete; a submission never replaces them.
GIVEN_MODULES: tuple[str, ...] = ("__init__", "solver", "gradcheck", "data", "vis")
#: Modules students implement; released as stubs generated from ``solutions/course_lib``.
TASK_MODULES: tuple[str, ...] = ("layers", "fc_net", "optim")
#: Assignments, in teaching order.
ASSIGNMENT_NAMES: tuple[str, ...] = ("a1_fully_connected", "a2_optimizers", "a3_dropout")
