"""One definition per check: ``@check(task=..., points=...)`` on a function in
``grader/checks/<visibility>/<assignment>.py``. The function's name is the check's name; the
file it lives in gives its assignment and visibility, so none of these is written twice.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grader import paths
from grader.checks.tasks import TASKS, Task

if TYPE_CHECKING:
    from grader.checks.context import Context

VISIBILITIES = ("public", "hidden")


@dataclass(frozen=True)
class Check:
    name: str
    assignment: str
    task: Task
    points: float
    visibility: str
    run: Callable[[Context], None]
    timeout: float
    randomized: bool
    #: the check module that defines it: grader.checks.<visibility>.<assignment>
    module: str

    @property
    def reference_file(self) -> str:
        return f"{self.visibility}/{self.assignment}.npz"


_REGISTRY: dict[str, Check] = {}


def check(
    task: str,
    points: float,
    *,
    timeout: float = 10.0,
    randomized: bool = False,
    name: str | None = None,
    module: str | None = None,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register the decorated function as a check of ``task`` worth ``points``.

    ``timeout``: seconds allowed per call into the student's code. ``randomized``: the check draws
    its inputs from ``ctx.generator()`` (the honesty tests run it under many seeds). ``name`` and
    ``module`` default to the function's own; a check module that registers a family of checks in
    a loop (one per update rule) passes them: the check's name and its own ``__name__``.
    """
    if task not in TASKS:
        raise KeyError(f"unknown task {task!r}")

    def register(function: Callable[..., None]) -> Callable[..., None]:
        where = module or function.__module__
        package, _, assignment = where.rpartition(".")
        visibility = package.rpartition(".")[2]
        if visibility not in VISIBILITIES or assignment not in paths.ASSIGNMENT_NAMES:
            raise ValueError(f"checks live in grader/checks/<public|hidden>/<assignment>.py, not {where}")
        check_name = name or function.__name__
        previous = _REGISTRY.get(check_name)
        if previous is not None and previous.module != where:
            raise ValueError(f"check name {check_name!r} is defined twice")
        _REGISTRY[check_name] = Check(
            check_name,
            assignment,
            TASKS[task],
            float(points),
            visibility,
            function,
            timeout,
            randomized,
            where,
        )
        return function

    return register


def load_checks(include_hidden: bool = True) -> list[Check]:
    """Import every check module that is present (a student bundle has no ``hidden/``)."""
    for visibility in VISIBILITIES if include_hidden else ("public",):
        try:
            package = importlib.import_module(f"grader.checks.{visibility}")
        except ModuleNotFoundError:
            continue
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{module.name}")
    wanted = VISIBILITIES if include_hidden else ("public",)
    return [c for c in _REGISTRY.values() if c.visibility in wanted]


def select(
    checks: Iterable[Check],
    assignments: Iterable[str] = (),
    pattern: str | None = None,
    tasks: Iterable[str] = (),
) -> list[Check]:
    """Filter by assignment names, task names and a substring of check or task name."""
    assignments, tasks = set(assignments), set(tasks)
    chosen = []
    for item in checks:
        if assignments and item.assignment not in assignments:
            continue
        if tasks and item.task.name not in tasks:
            continue
        if pattern and pattern.lower() not in f"{item.name} {item.task.name}".lower():
            continue
        chosen.append(item)
    order = {name: i for i, name in enumerate(paths.ASSIGNMENT_NAMES)}
    task_order = {name: i for i, name in enumerate(TASKS)}
    # Assignment and task order, public checks first. (The runner enforces "every hidden check
    # after every public one" itself, whatever order it is given.)
    return sorted(
        chosen, key=lambda c: (c.visibility == "hidden", order[c.assignment], task_order[c.task.name])
    )


def task_points(checks: Iterable[Check]) -> dict[tuple[str, str], float]:
    """Total points per (assignment, task): the value of that task's notebook grade cell."""
    totals: dict[tuple[str, str], float] = {}
    for item in checks:
        key = (item.assignment, item.task.name)
        totals[key] = totals.get(key, 0.0) + item.points
    return totals
