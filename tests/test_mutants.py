"""Every known-bug mutant of the reference solution is caught by the checks it names."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.mutants as catalogs
from grader.checks import registry
from grader.checks.engine import CheckRunner
from grader.checks.reference import load_reference
from tests.mutants import Mutant, edited_lib, warm_runner


def all_mutants() -> list[Mutant]:
    found = []
    for info in pkgutil.iter_modules(catalogs.__path__):
        found += importlib.import_module(f"{catalogs.__name__}.{info.name}").MUTANTS
    return found


MUTANTS = all_mutants()
#: Hints that name a confirmed cause: each may reach its own mutant only (never another's).
CAUSE_HINTS = {m.hint for m in MUTANTS if m.hint}
REFERENCE = load_reference()
CHECKS = registry.load_checks()


@pytest.fixture(scope="module")
def runner() -> Iterator[CheckRunner]:
    """One warm child for all mutants: each session imports the mutated files of its own folder."""
    with warm_runner(REFERENCE) as warm:
        yield warm


def test_catalog_is_large_and_unique():
    names = [m.name for m in MUTANTS]
    assert len(names) == len(set(names)), "duplicate mutant names"
    assert len(MUTANTS) >= 40


def test_every_check_catches_some_mutant():
    caught = {name for m in MUTANTS for name in m.caught_by}
    idle = sorted(c.name for c in CHECKS if c.name not in caught)
    assert not idle, f"checks no mutant shows to be able to fail: {idle}"


def test_every_check_fails_on_a_noop():
    """No points for inaction: each check is named by a no-op submission (tests/mutants/noops.py)."""
    caught = {name for m in MUTANTS if m.name.startswith("noop_") for name in m.caught_by}
    idle = sorted(c.name for c in CHECKS if c.name not in caught)
    assert not idle, f"checks no no-op submission is shown to fail: {idle}"


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_is_caught(mutant: Mutant, tmp_path: Path, runner: CheckRunner):
    lib = edited_lib(tmp_path, mutant.module, mutant.apply)
    tasks = {c.task.name for c in CHECKS if c.name in mutant.caught_by}
    results = runner.run(registry.select(CHECKS, tasks=tasks), lib=lib)
    failed = {r.check for r in results if not r.passed}
    unknown = set(mutant.caught_by) - {r.check for r in results}
    assert not unknown, f"caught_by names checks that do not exist: {sorted(unknown)}"
    missed = set(mutant.caught_by) - failed
    assert not missed, (
        f"{mutant.name} ({mutant.why}) was not caught by {sorted(missed)}; failing: {sorted(failed)}"
    )
    messages = [r.message for r in results if not r.passed]
    if mutant.hint:
        assert any(mutant.hint in m for m in messages), (
            f"no message names the cause {mutant.hint!r}: {messages}"
        )
    wrong = [hint for hint in CAUSE_HINTS - {mutant.hint} if any(hint in m for m in messages)]
    assert not wrong, f"{mutant.name} is told a cause that is not its bug: {wrong}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dropout_no_scale", "dropout_not_inverted"])
def test_broken_dropout_keeps_at_most_6_of_13(name: str, tmp_path: Path, runner: CheckRunner):
    """A non-inverted dropout is not graded like a correct one (issue 13's bar: at most 6 of 13)."""
    (mutant,) = [m for m in MUTANTS if m.name == name]
    lib = edited_lib(tmp_path, mutant.module, mutant.apply)
    results = runner.run(registry.select(CHECKS, tasks={"Dropout.forward", "Dropout.backward"}), lib=lib)
    assert sum(r.max_points for r in results) == 13
    assert sum(r.points for r in results) <= 6
