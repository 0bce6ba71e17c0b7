"""The checks are honest: the reference earns every point, the released stubs earn none."""

from __future__ import annotations

import pytest

from grader import paths
from grader.checks import registry
from grader.checks.engine import CheckRunner, submission_lib
from grader.checks.reference import ReferenceStore, load_reference
from grader.checks.tasks import TASKS
from grader.cli.check import grade
from grader.release.stubs import not_implemented_message, tasks_in
from grader.sandbox.launch import SandboxPolicy

REFERENCE = load_reference()
LOCAL = SandboxPolicy(use_bwrap=False)


def test_task_table_matches_solution_markers():
    marked = {}
    for module in paths.TASK_MODULES:
        for task in tasks_in((paths.SOLUTION_LIB / f"{module}.py").read_text()):
            marked[task] = module
    assert marked == {name: task.module for name, task in TASKS.items()}


def test_every_task_has_public_and_hidden_checks_in_each_assignment_it_appears():
    checks = registry.load_checks()
    graded = {c.task.name for c in checks}
    assert graded == set(TASKS), f"tasks without checks: {sorted(set(TASKS) - graded)}"
    for assignment, task in {(c.assignment, c.task.name) for c in checks}:
        kinds = {c.visibility for c in checks if (c.assignment, c.task.name) == (assignment, task)}
        assert "public" in kinds, f"{assignment}/{task} has no public check"


def test_solutions_score_full_marks():
    results = grade(paths.SOLUTIONS, hidden=True, policy=LOCAL, reference=REFERENCE)
    failures = [f"{r.check}: {r.message}" for r in results if not r.passed]
    assert not failures, "\n".join(failures)
    assert sum(r.points for r in results) == sum(c.points for c in registry.load_checks())


def test_stubs_score_zero_with_the_task_message():
    results = grade(paths.REPO, hidden=True, policy=LOCAL, reference=REFERENCE)
    assert sum(r.points for r in results) == 0
    for result in results:
        message = not_implemented_message(result.task, TASKS[result.task].module)
        assert result.message == message, f"{result.check}: {result.message!r}"


@pytest.mark.slow
@pytest.mark.parametrize("first_seed", range(0, 100, 10))
def test_randomized_checks_pass_for_100_seeds(first_seed):
    """Ten seeds per test so that parallel workers share the 100."""
    randomized = [c for c in registry.select(registry.load_checks()) if c.randomized]
    assert randomized, "no randomized checks"
    store = ReferenceStore("grade", REFERENCE)
    with submission_lib(paths.SOLUTIONS) as (lib, _), CheckRunner(lib, LOCAL, REFERENCE, store) as runner:
        for seed in range(first_seed, first_seed + 10):
            failures = [f"{r.check}: {r.message}" for r in runner.run(randomized, seed) if not r.passed]
            assert not failures, f"seed {seed}:\n" + "\n".join(failures)


@pytest.mark.parametrize(
    ("module", "old", "new", "broken"),
    [
        ("layers", "dx = x.sign().clamp_(min=0).mul_(dout)", "dx = dout * (x >= 0)", {"ReLU.backward"}),
        ("layers", "db = dout.sum(dim=0)", "db = dout.sum(dim=1)", {"Linear.backward"}),
    ],
)
def test_a_bug_costs_only_its_own_task(module, old, new, broken, tmp_path):
    """No cascade: Linear_ReLU, the networks and every other task keep their points."""
    lib = tmp_path / "course_lib"
    lib.mkdir()
    for name in paths.TASK_MODULES:
        source = (paths.SOLUTION_LIB / f"{name}.py").read_text()
        (lib / f"{name}.py").write_text(source.replace(old, new) if name == module else source)
    assert old in (paths.SOLUTION_LIB / f"{module}.py").read_text()
    results = grade(tmp_path, ["a1_fully_connected"], hidden=True, policy=LOCAL, reference=REFERENCE)
    losing = {r.task for r in results if not r.passed}
    assert losing == broken
