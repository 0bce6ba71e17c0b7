"""Known-bug mutants of the reference solution; every one must be caught by a named check.

Each catalog module (one per assignment) defines ``MUTANTS``: a list of :class:`Mutant`, each a
single textual edit of one file of ``solutions/course_lib`` and the checks expected to fail.
The helpers here (:func:`replace_once`, :func:`edited_lib`, :func:`warm_runner`) are shared with
``tests/variants`` (correct code written differently, the mirror image of a mutant).
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from grader import paths
from grader.checks.engine import CheckRunner, assemble_lib, submission_lib
from grader.checks.reference import ReferenceLib, ReferenceStore
from grader.checks.tasks import TASKS
from grader.release.stubs import find_regions
from grader.sandbox.launch import SandboxPolicy


def replace_once(source: str, old: str, new: str, what: str) -> str:
    """``source`` with the one occurrence of ``old`` replaced by ``new``."""
    count = source.count(old)
    if count != 1:
        raise ValueError(f"{what}: the text to replace occurs {count} times, expected once")
    return source.replace(old, new)


def region_text(task: str) -> str:
    """The lines of ``task``'s solution region (markers included) in ``solutions/course_lib``."""
    source = (paths.SOLUTION_LIB / f"{TASKS[task].module}.py").read_text()
    lines = source.splitlines(keepends=True)
    (region,) = [r for r in find_regions(source) if r.task == task]
    return "".join(lines[region.begin - 1 : region.end])


def region_edit(task: str, body: str) -> tuple[str, str]:
    """(old, new): ``task``'s whole solution region and the same region holding ``body`` instead
    (``body`` is dedented, then indented like the region's markers)."""
    old = region_text(task)
    lines = old.splitlines(keepends=True)
    indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
    code = textwrap.indent(textwrap.dedent(body).strip("\n") + "\n", indent)
    return old, lines[0] + code + lines[-1]


@dataclass(frozen=True)
class Mutant:
    name: str
    module: str  # "layers", "fc_net" or "optim"
    old: str  # exact text in solutions/course_lib/<module>.py (must occur exactly once)
    new: str
    caught_by: tuple[str, ...]  # check names that must fail on this mutant (at least one)
    why: str = ""  # the realistic bug this stands for
    #: words of a confirmed-cause hint that some failing check's message must contain
    hint: str = ""

    def __post_init__(self) -> None:
        if self.new == self.old:  # e.g. a str.replace that no longer matches the reference's text
            raise ValueError(f"mutant {self.name} changes nothing")

    def apply(self, source: str) -> str:
        return replace_once(source, self.old, self.new, f"mutant {self.name}")


def edited_lib(tmp_path: Path, module: str, edit: Callable[[str], str]) -> Path:
    """A folder holding a ``course_lib`` of the solutions with ``edit`` applied to ``module``."""
    sources = tmp_path / "sources"
    sources.mkdir()
    for name in paths.TASK_MODULES:
        shutil.copyfile(paths.SOLUTION_LIB / f"{name}.py", sources / f"{name}.py")
    target = sources / f"{module}.py"
    target.write_text(edit(target.read_text()))
    assemble_lib(sources, tmp_path / "lib")
    return tmp_path / "lib"


@contextmanager
def warm_runner(reference: ReferenceLib | None) -> Iterator[CheckRunner]:
    """One warm, unsandboxed child whose sessions can each import another course_lib folder."""
    store = ReferenceStore("grade", reference)
    with (
        submission_lib(paths.SOLUTIONS) as (lib, _),
        CheckRunner(lib, SandboxPolicy(use_bwrap=False), reference, store) as warm,
    ):
        yield warm
