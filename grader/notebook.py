"""Check cells in the assignment notebooks: ``check("Linear.forward")``.

Runs the public checks of one task against the ``course_lib`` on disk (a child process, so
edits are picked up without restarting the kernel), shows the result as a table, and raises
:class:`ChecksFailed` when a check fails so that "Run All" stops at the first unfinished task.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from grader import paths
from grader.checks.run import grade
from grader.checks.runner import CheckResult


class ChecksFailed(AssertionError):
    """At least one public check of the task failed; the table above says which and why."""


def _html(task: str, results: Sequence[CheckResult]) -> str:
    rows = []
    for r in results:
        colour = "#1a7f37" if r.passed else "#cf222e"
        status = "PASS" if r.passed else "FAIL"
        message = html.escape(r.message.removeprefix(f"{task} ")) or "&nbsp;"
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
        lines.append(f"  {'PASS' if r.passed else 'FAIL'}  {r.check}  {r.message.removeprefix(f'{task} ')}")
    return "\n".join(lines)


def check(task: str, assignment: str | None = None) -> list[CheckResult]:
    """Run the public checks of ``task`` on this repository's ``course_lib`` and display them."""
    results = grade(paths.REPO, [assignment] if assignment else (), tasks=[task])
    if not results:
        raise ValueError(f"no public checks for task {task!r}")
    try:
        from IPython.display import HTML, display

        display(HTML(_html(task, results)))
    except ImportError:
        print(_text(task, results))
    failed = [r for r in results if not r.passed]
    if failed:
        raise ChecksFailed(
            f"{task}: {len(failed)} of {len(results)} public checks fail (see the table above)"
        )
    return results
