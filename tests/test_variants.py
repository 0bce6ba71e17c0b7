"""Every correct variant of the reference earns full marks (or loses exactly its rule's checks).

The mirror of tests/test_mutants.py: a mutant proves a check can fail, a variant proves that
correct code written another way is not failed. Only the checks of the tasks a variant edits run.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.variants as catalogs
from grader import paths
from grader.checks import registry
from grader.checks.engine import CheckRunner
from grader.checks.reference import load_reference
from grader.checks.tasks import TASKS
from grader.release.stubs import find_regions
from tests.mutants import edited_lib, warm_runner
from tests.test_mutants import CAUSE_HINTS
from tests.variants import Variant


def all_variants() -> list[Variant]:
    found = []
    for info in pkgutil.iter_modules(catalogs.__path__):
        found += importlib.import_module(f"{catalogs.__name__}.{info.name}").VARIANTS
    return found


VARIANTS = all_variants()
REFERENCE = load_reference()
CHECKS = registry.load_checks()


def regions(source: str) -> tuple[dict[str, str], str]:
    """Each task's region text, and the source with every region cut out."""
    lines = source.splitlines(keepends=True)
    texts, outside, position = {}, [], 0
    for region in find_regions(source):
        texts[region.task] = "".join(lines[region.begin - 1 : region.end])
        outside += lines[position : region.begin - 1]
        position = region.end
    return texts, "".join(outside + lines[position:])


def touched_tasks(variant: Variant) -> set[str]:
    """The tasks whose solution region the variant changes."""
    original = (paths.SOLUTION_LIB / f"{variant.module}.py").read_text()
    before, _ = regions(original)
    after, _ = regions(variant.apply(original))
    return {task for task in before if before[task] != after[task]}


def graded_tasks(variant: Variant) -> set[str]:
    """The edited tasks, plus every backward of an edited forward (BatchNorm has two; backward checks
    run the student's own forward to get its cache, so they grade the pair)."""
    tasks = touched_tasks(variant)
    owners = {task.removesuffix(".forward") for task in tasks if task.endswith(".forward")}
    backwards = {name for name in TASKS if name.rpartition(".")[0] in owners and ".backward" in name}
    return tasks | backwards


@pytest.fixture(scope="module")
def runner() -> Iterator[CheckRunner]:
    """One warm child for all variants: each session imports the edited files of its own folder."""
    with warm_runner(REFERENCE) as warm:
        yield warm


def test_catalog_is_large_and_unique():
    names = [v.name for v in VARIANTS]
    assert len(names) == len(set(names)), "duplicate variant names"
    assert len(VARIANTS) >= 40


def test_every_task_has_a_variant():
    """A task no correct-but-different code was graded on is not shown to grade the math."""
    covered = {task for variant in VARIANTS for task in touched_tasks(variant)}
    assert not set(TASKS) - covered, f"tasks without a variant: {sorted(set(TASKS) - covered)}"


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_variant_edits_only_student_code(variant: Variant):
    original = (paths.SOLUTION_LIB / f"{variant.module}.py").read_text()
    assert regions(variant.apply(original))[1] == regions(original)[1], "edits outside the solution regions"
    assert touched_tasks(variant), "the variant changes nothing"
    known = {c.name: c.task.name for c in CHECKS}
    for check, _ in variant.loses:
        assert known.get(check) in touched_tasks(variant), f"{check} is not a check of an edited task"


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_variant_earns_full_marks(variant: Variant, tmp_path: Path, runner: CheckRunner):
    lib = edited_lib(tmp_path, variant.module, variant.apply)
    results = runner.run(registry.select(CHECKS, tasks=graded_tasks(variant)), lib=lib)
    failed = {r.check: r.message for r in results if not r.passed}
    rules = dict(variant.loses)
    unexpected = {check: message for check, message in failed.items() if check not in rules}
    assert not unexpected, f"{variant.name} ({variant.why}) is correct but fails: {unexpected}"
    assert set(failed) == set(rules), f"{variant.name} should lose {sorted(rules)}, loses {sorted(failed)}"
    causes = [hint for hint in CAUSE_HINTS if any(hint in message for message in failed.values())]
    assert not causes, f"{variant.name} is correct but is told a bug's cause: {causes}"
    for check, rule in rules.items():
        assert rule in failed[check], f"{check}'s message does not quote the rule {rule!r}: {failed[check]}"
