"""Submissions that do nothing plausible: every check must fail on at least one of them.

Each no-op replaces the whole solution region of one task by code that returns something of the
right type and shape without doing the work (the input itself, zeros, an unchanged state, a
constructor that creates no parameters). Every check of that task must fail on it: a check that
passes a no-op gives points for inaction.
"""

from __future__ import annotations

from grader.checks import registry
from grader.checks.tasks import TASKS
from tests.mutants import Mutant, region_edit


def noop(task: str, kind: str, body: str) -> Mutant:
    """A mutant whose region of ``task`` is ``body`` (indented like the region); it must fail
    every check of the task."""
    old, new = region_edit(task, body)
    caught = tuple(sorted(c.name for c in registry.load_checks() if c.task.name == task))
    return Mutant(
        f"noop_{task.replace('.', '_').lower()}_{kind}",
        TASKS[task].module,
        old,
        new,
        caught,
        f"{task}: {kind}",
    )


MUTANTS = [
    noop("Dropout.forward", "identity", "return x, (mode, None)"),
    noop("Dropout.forward", "zeros", "return torch.zeros_like(x), (mode, None)"),
    noop("Dropout.backward", "identity", "return dout"),
    noop("Dropout.backward", "zeros", "return torch.zeros_like(dout)"),
]
