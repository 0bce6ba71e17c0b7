"""Check cells in the assignment notebooks: ``check("Linear.forward")``.

Runs the public checks of one task against the ``course_lib`` on disk, shows the result as a
table, and raises :class:`ChecksFailed` when a check fails so that "Run All" stops at the first
unfinished task. The checks run in a child process that stays warm for the kernel's lifetime
(torch imported once); every check starts a fresh fork of it that imports the task files as they
are on disk now, so edits are picked up without restarting the kernel.
"""

from __future__ import annotations

import contextlib
import html
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from grader import paths
from grader.checks import registry
from grader.checks.reference import ReferenceStore, load_reference
from grader.checks.runner import CheckResult, CheckRunner
from grader.runner.course import assemble_lib
from grader.runner.launch import SandboxPolicy


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


def _html(task: str, results: Sequence[CheckResult]) -> str:
    rows = []
    for r in results:
        colour = "#1a7f37" if r.passed else "#cf222e"
        status = "PASS" if r.passed else "FAIL"
        message = html.escape(r.message) or "&nbsp;"
        rows.append(
            f"<tr><td style='color:{colour};font-weight:bold'>{status}</td><td><code>{r.check}</code></td>"
            f"<td>{r.points:g}/{r.max_points:g}</td><td style='text-align:left'>{message}</td></tr>"
        )
    earned, possible = sum(r.points for r in results), sum(r.max_points for r in results)
    colour = "#1a7f37" if earned == possible else "#cf222e"
    title = f"<b style='color:{colour}'>{html.escape(task)}: {earned:g}/{possible:g} public points</b>"
    return f"{title}<table>{''.join(rows)}</table>"


def _text(task: str, results: Sequence[CheckResult]) -> str:
    lines = [
        f"{task}: {sum(r.points for r in results):g}/{sum(r.max_points for r in results):g} public points"
    ]
    for r in results:
        lines.append(f"  {'PASS' if r.passed else 'FAIL'}  {r.check}  {r.message}")
    return "\n".join(lines)


_warm: tuple[tempfile.TemporaryDirectory[str], CheckRunner] | None = None


def _runner() -> tuple[Path, CheckRunner]:
    """The kernel's warm runner, with the task files copied afresh from ``course_lib/``."""
    global _warm
    if _warm is None:
        folder = tempfile.TemporaryDirectory(prefix="grader-notebook-")
        assemble_lib(paths.COURSE_LIB, Path(folder.name))
        reference = load_reference()
        runner = CheckRunner(
            Path(folder.name), SandboxPolicy(use_bwrap=False), reference, ReferenceStore("grade", reference)
        )
        _warm = (folder, runner)
    folder, runner = _warm
    assemble_lib(paths.COURSE_LIB, Path(folder.name), refresh=True)
    return Path(folder.name), runner


def _assignment_of_notebook() -> str | None:
    """The assignment whose folder the kernel runs in (notebooks run from assignments/<name>/)."""
    name = Path.cwd().name
    return name if name in paths.ASSIGNMENT_NAMES else None


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

        display(HTML(_html(task, results)))
    except ImportError:
        print(_text(task, results))
    failed = [r for r in results if not r.passed]
    if failed:
        first = failed[0].message.removeprefix(f"{task} ")
        raise ChecksFailed(
            f"{task}: {len(failed)} of {len(results)} public checks fail (table above); "
            f"first, {failed[0].check}: {first[:300]}"
        )
