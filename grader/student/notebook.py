"""Check cells in the assignment notebooks: ``check("Linear.forward")``.

Runs the public checks of one task against the ``course_lib`` on disk (the assignment folder's),
shows the result as a table, and raises :class:`ChecksFailed` when a check fails so that "Run All"
stops at the first unfinished task. The checks run in a child process that stays warm for the kernel's lifetime
(torch imported once); every check starts a fresh fork of it that imports the task files as they
are on disk now, so edits are picked up without restarting the kernel.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from grader import paths, render
from grader.checks import registry
from grader.checks.engine import CheckRunner
from grader.checks.reference import ReferenceStore, load_reference
from grader.sandbox.course import assemble_lib
from grader.sandbox.launch import SandboxPolicy
from grader.student.workspace import assignment_of_folder


class ChecksFailed(AssertionError):
    """At least one public check of the task failed; the table above says which and why.

    Shown as its one line, not as a traceback into the grader (IPython asks for
    ``_render_traceback_``); nbgrader's Validate lists that line under the failing cell.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31m{type(self).__name__}\x1b[0m: {self}"]


@contextlib.contextmanager
def quick_test() -> Iterator[None]:
    """Wrap a quick-test cell: while a task it calls is still a stub, print the stub's one line
    instead of raising, so that "Run All" goes on to the task's check cell, whose table says what
    the task must do. Any other exception (a bug) is raised as usual."""
    try:
        yield
    except NotImplementedError as error:
        print(f"{error}: this quick test runs once it is written.")


_warm: tuple[tempfile.TemporaryDirectory[str], CheckRunner] | None = None


def student_lib() -> Path:
    """The ``course_lib`` folder the notebook works on: the one its kernel imported (the
    assignment folder's), else ``./course_lib``, else the repository's."""
    imported = getattr(sys.modules.get("course_lib"), "__file__", None)
    if imported:
        return Path(imported).resolve().parent
    here = Path.cwd() / "course_lib"
    return here if here.is_dir() else paths.COURSE_LIB


def _runner() -> tuple[Path, CheckRunner]:
    """The kernel's warm runner, with the task files copied afresh from :func:`student_lib`."""
    global _warm
    if _warm is None:
        folder = tempfile.TemporaryDirectory(prefix="grader-notebook-")
        assemble_lib(student_lib(), Path(folder.name))
        reference = load_reference()
        runner = CheckRunner(
            Path(folder.name), SandboxPolicy(use_bwrap=False), reference, ReferenceStore("grade", reference)
        )
        _warm = (folder, runner)
    folder, runner = _warm
    assemble_lib(student_lib(), Path(folder.name), refresh=True)
    return Path(folder.name), runner


def _assignment_of_notebook() -> str | None:
    """The assignment whose folder the kernel runs in (any name: see :mod:`grader.student.workspace`)."""
    return assignment_of_folder(Path.cwd())


def check(task: str, assignment: str | None = None) -> None:
    """Run the public checks of ``task`` (of this notebook's assignment) and display them.

    Returns nothing (a cell's value could be read as a grade by nbgrader); raises
    :class:`ChecksFailed` naming the failing checks and the first failure's message."""
    assignment = assignment or _assignment_of_notebook()
    chosen = registry.select(
        registry.load_checks(include_hidden=False), [assignment] if assignment else (), tasks=[task]
    )
    _, runner = _runner()
    results = runner.run(chosen)
    if not results:
        raise ValueError(f"no public checks for task {task!r}")
    try:
        from IPython.display import HTML, display

        display(HTML(render.notebook_check_html(task, results)))
    except ImportError:
        print(render.notebook_check_text(task, results))
    failed = [r for r in results if not r.passed]
    if failed:
        raise ChecksFailed(
            f"{task}: {len(failed)} of {len(results)} public checks fail (table above); "
            f"first: {failed[0].check}: {failed[0].message[:300]}"
        )
