"""Where things live in this repository. Every other module asks here."""

from __future__ import annotations

import os
import sys
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
ASSIGNMENT_NAMES: tuple[str, ...] = ("a1_fully_connected", "a2_optimizers", "a3_dropout", "a4_normalization")


def interpreter_tools_on_path() -> None:
    """Make the programs installed beside this interpreter findable by name.

    nbgrader runs ``alembic`` by name when it creates a gradebook. When the grader is started
    as ``.venv/bin/python -m grader`` without activating the venv (cron, systemd, Makefiles),
    the venv's ``bin`` is not on ``PATH``; call this before handing work to nbgrader.
    """
    tools = str(Path(sys.executable).parent)
    searched = os.environ.get("PATH", "").split(os.pathsep)
    if tools not in searched:
        os.environ["PATH"] = os.pathsep.join([tools, *filter(None, searched)])
