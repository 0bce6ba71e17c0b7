"""Every known-bug mutant of the reference solution is caught by the checks it names."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
from pathlib import Path

import pytest

import tests.mutants as catalogs
from grader import paths
from grader.checks.reference import load_reference
from grader.checks.registry import load_checks
from grader.checks.run import grade
from grader.runner.launch import SandboxPolicy
from tests.mutants import Mutant


def all_mutants() -> list[Mutant]:
    found = []
    for info in pkgutil.iter_modules(catalogs.__path__):
        found += importlib.import_module(f"{catalogs.__name__}.{info.name}").MUTANTS
    return found


MUTANTS = all_mutants()
REFERENCE = load_reference()
LOCAL = SandboxPolicy(use_bwrap=False)


def test_catalog_is_large_and_unique():
    names = [m.name for m in MUTANTS]
    assert len(names) == len(set(names)), "duplicate mutant names"
    assert len(MUTANTS) >= 40


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_is_caught(mutant: Mutant, tmp_path: Path):
    submission = tmp_path / "course_lib"
    submission.mkdir()
    for module in paths.TASK_MODULES:
        shutil.copyfile(paths.SOLUTION_LIB / f"{module}.py", submission / f"{module}.py")
    target = submission / f"{mutant.module}.py"
    target.write_text(mutant.apply(target.read_text()))

    results = grade(tmp_path, hidden=True, policy=LOCAL, reference=REFERENCE, tasks=_tasks_of(mutant))
    failed = {r.check for r in results if not r.passed}
    unknown = set(mutant.caught_by) - {r.check for r in results}
    assert not unknown, f"caught_by names checks that do not exist for these tasks: {sorted(unknown)}"
    missed = set(mutant.caught_by) - failed
    assert not missed, f"{mutant.name} ({mutant.why}) was not caught by {sorted(missed)}; failing: {sorted(failed)}"


def _tasks_of(mutant: Mutant) -> list[str]:
    return sorted({c.task.name for c in load_checks() if c.name in mutant.caught_by})
