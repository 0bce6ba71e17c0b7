"""Every way a result is shown, in one place: terminal tables, notebook and nbgrader cell outputs,
feedback (HTML, Markdown), the class table, Gradescope's JSON, the grades CSV.

Who reads decides what is shown (:class:`Audience`): students see public checks in full and
hidden checks by name and score only; graders (formgrader's autograded notebooks) see every
message. Student-chosen text (messages quote the student's exceptions and values; problems and
ids come from uploads) goes through the neutraliser of its sink (:mod:`grader.untrusted`).
"""

from __future__ import annotations

import enum
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from grader import untrusted
from grader.results import (
    CheckResult,
    SubmissionResult,
    TaskScore,
    WrittenAnswer,
    manual_total,
    task_scores,
)

PASS_COLOUR, FAIL_COLOUR = "#1a7f37", "#cf222e"
TERMINAL_WIDTH = 112
AUTOGRADED_NOTE = "written answers are graded by hand"


class Audience(enum.Enum):
    STUDENT = "student"  #: hidden checks by name and score only
    GRADER = "grader"  #: every message


def message_for(check: CheckResult, audience: Audience) -> str:
    """What ``audience`` may read of ``check``'s message ('' for passing checks)."""
    if check.passed or (check.hidden and audience is Audience.STUDENT):
        return ""
    return check.message


def _status(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def _points(earned: float, possible: float) -> str:
    return f"{earned:g}/{possible:g}"


def _label(check: CheckResult) -> str:
    return f"hidden check {check.check}" if check.hidden else check.check


# ---- terminal ----------------------------------------------------------------------------------


def _clip(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def terminal_table(results: Sequence[CheckResult], verbose: bool = False) -> str:
    """A table per assignment: one row per task, its points and the first failure reason.

    A task whose checks all fail with the same message (typically "not implemented yet") gets
    that message once; with ``verbose`` every failing check is listed under its task.
    """
    lines: list[str] = []
    for assignment in dict.fromkeys(r.assignment for r in results):
        tasks = [t for t in task_scores(results) if t.assignment == assignment]
        earned, possible = sum(t.points for t in tasks), sum(t.max_points for t in tasks)
        lines += [f"{assignment}  {_points(earned, possible)} points", "-" * TERMINAL_WIDTH]
        for task in tasks:
            failed, reasons = task.failed, {r.message for r in task.failed}
            note = ""
            if failed:
                note = (
                    failed[0].message
                    if len(reasons) == 1
                    else f"{len(failed)}/{len(task.checks)} checks fail"
                )
            points = _points(task.points, task.max_points)
            lines.append(
                f"  {_status(task.passed)}  {task.task:<32} {points:>7}  {_clip(note, TERMINAL_WIDTH - 48)}"
            )
            if failed and (verbose or len(reasons) > 1):
                lines += [f"        - {r.check}: {_clip(r.message, 400)}" for r in failed]
        lines.append("")
    return "\n".join(lines)


def check_report(results: Sequence[CheckResult]) -> dict[str, Any]:
    """``grader check --json``: every check (without visibility), plus the total score."""
    keys = ("check", "assignment", "task", "points", "max_points", "passed", "message")
    return {
        "checks": [{key: r.as_dict()[key] for key in keys} for r in results],
        "score": sum(r.points for r in results),
        "max_score": sum(r.max_points for r in results),
    }


def class_table(results: Sequence[SubmissionResult]) -> str:
    """The batch's table: one line per student, score and problems."""
    names = {id(r): untrusted.terminal(r.student, 80) for r in results}
    width = max([len(name) for name in names.values()] + [7])
    lines = [f"{'student':<{width}}  {'score':>9}  problems"]
    for result in sorted(results, key=lambda r: r.student):
        problems = untrusted.terminal("; ".join(result.problems), 120)
        lines.append(
            f"{names[id(result)]:<{width}}  {_points(result.score, result.max_score):>9}  {problems}"
        )
    return "\n".join(lines)


def progress_line(number: int, total: int, result: SubmissionResult) -> str:
    problems = "; ".join(result.problems)
    return untrusted.terminal(
        f"[{number}/{total}] {result.student}: {_points(result.score, result.max_score)}"
        f" ({result.seconds:.1f} s){'  problems: ' + problems if problems else ''}"
    )


def batch_summary(results: Sequence[SubmissionResult]) -> dict[str, Any]:
    """The part of ``summary.json`` that describes the class."""
    return {
        "students": len(results),
        "with_problems": sorted(r.student for r in results if r.problems),
        "full_marks": sorted(r.student for r in results if r.score == r.max_score),
    }


# ---- HTML (notebook check cells, nbgrader cells, feedback) -------------------------------------
# Only what nbconvert's sanitizer keeps (formgrader and nbgrader's feedback pass outputs through it):
# div, span, ul, li, b, code, with classes (Bootstrap's text-success/text-danger colour them there;
# the inline colour serves JupyterLab; FEEDBACK_CSS styles the rest).


def _verdict(passed: bool, text: str) -> str:
    kind, colour = ("success", PASS_COLOUR) if passed else ("danger", FAIL_COLOUR)
    return f"<b class='text-{kind} grader-{kind}' style='color:{colour}'>{text}</b>"


def _html_item(check: CheckResult, audience: Audience) -> str:
    message = untrusted.html_text(message_for(check, audience), 4000)
    return (
        f"<li>{_verdict(check.passed, _status(check.passed))} <code>{html.escape(_label(check))}</code>"
        f" {_points(check.points, check.max_points)}"
        + (f"<div class='grader-message'>{message}</div>" if message else "")
        + "</li>"
    )


def task_html(task: TaskScore, audience: Audience, what: str = "points") -> str:
    """One task: a coloured title with its total, a line per check (with the message ``audience`` may read)."""
    title = _verdict(task.passed, f"{html.escape(task.task)}: {_points(task.points, task.max_points)} {what}")
    items = "".join(_html_item(c, audience) for c in task.checks)
    return f"<div class='grader-task'><div>{title}</div><ul class='grader-checks'>{items}</ul></div>"


def task_text(task: TaskScore, audience: Audience, what: str = "points") -> str:
    lines = [f"{task.task}: {_points(task.points, task.max_points)} {what}"]
    for check in task.checks:
        message = untrusted.plain(message_for(check, audience), 4000)
        points = _points(check.points, check.max_points)
        lines.append(f"  {_status(check.passed)}  {_label(check)}  {points}  {message}".rstrip())
    return "\n".join(lines)


def task_output(task: TaskScore, audience: Audience) -> dict[str, str]:
    """A notebook ``display_data`` bundle for ``task``'s check cell (HTML and plain text)."""
    return {"text/html": task_html(task, audience), "text/plain": task_text(task, audience)}


def notebook_check_html(task: str, results: Sequence[CheckResult]) -> str:
    """The student's own check cell: that task's public checks."""
    tasks = [t for t in task_scores(results) if t.task == task]
    return "".join(task_html(t, Audience.STUDENT, "public points") for t in tasks)


def notebook_check_text(task: str, results: Sequence[CheckResult]) -> str:
    tasks = [t for t in task_scores(results) if t.task == task]
    return "\n".join(task_text(t, Audience.STUDENT, "public points") for t in tasks)


# ---- feedback ----------------------------------------------------------------------------------


def _totals(result: SubmissionResult, answers: Sequence[WrittenAnswer]) -> tuple[str, str]:
    """(autograded line, written answers line) as plain text."""
    auto = f"Autograded score: {_points(result.score, result.max_score)}"
    possible = sum(a.max_points for a in answers)
    given = manual_total(answers)
    if not answers:
        return auto, ""
    if given is None:
        return auto, f"Written answers: not graded yet (out of {possible:g})"
    return (
        auto,
        f"Written answers: {_points(given, possible)}; total {result.score + given:g}/{result.max_score + possible:g}",
    )


def feedback_markdown(result: SubmissionResult, answers: Sequence[WrittenAnswer] = ()) -> str:
    auto, written = _totals(result, answers)
    lines = [f"# {result.assignment}: feedback for {untrusted.markdown(result.student)}", ""]
    lines += [f"**{auto}**" + ("" if written else f" ({AUTOGRADED_NOTE} and are not included)."), ""]
    lines += [f"**{written}**", ""] if written else []
    if result.problems:
        lines += [
            "## Problems with the submission",
            "",
            *(f"- {untrusted.markdown(p)}" for p in result.problems),
            "",
        ]
    for task in result.tasks:
        lines += [f"## {task.task}: {_points(task.points, task.max_points)}", ""]
        for check in task.checks:
            label = f"{_status(check.passed)} {_label(check)} ({_points(check.points, check.max_points)})"
            message = message_for(check, Audience.STUDENT)
            lines.append(f"- {label}" + (f": {untrusted.markdown(message)}" if message else ""))
        lines.append("")
    if answers:
        lines += ["## Written answers", ""]
        for answer in answers:
            score = "not graded yet" if answer.points is None else f"{answer.points:g}"
            comment = f": {untrusted.markdown(answer.comment)}" if answer.comment else ""
            lines.append(f"- {untrusted.markdown(answer.grade_id)} ({score}/{answer.max_points:g}){comment}")
        lines.append("")
    return "\n".join(lines)


#: How check lists look (nbgrader's feedback pages get it too).
CHECKS_CSS = (
    f".grader-success{{color:{PASS_COLOUR}}}.grader-danger{{color:{FAIL_COLOUR}}}"
    ".grader-task{margin:0.6em 0}ul.grader-checks{list-style:none;padding-left:1em;margin:0.2em 0}"
    ".grader-message{margin-left:3.5em;white-space:pre-wrap;color:#57606a}"
)
FEEDBACK_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#1f2328}"
    "h2{border-bottom:1px solid #d0d7de;padding-bottom:0.2em}code{font-size:95%}.total{font-size:1.2em}"
    + CHECKS_CSS
)


def _answer_item(answer: WrittenAnswer) -> str:
    score = "not graded yet" if answer.points is None else f"{answer.points:g}"
    comment = untrusted.html_text(answer.comment, 4000)
    return (
        f"<li><code>{untrusted.html_text(answer.grade_id)}</code> {score}/{answer.max_points:g}"
        + (f"<div class='grader-message'>{comment}</div>" if comment else "")
        + "</li>"
    )


def feedback_html(result: SubmissionResult, answers: Sequence[WrittenAnswer] = ()) -> str:
    """A standalone page (no scripts, no external resources)."""
    auto, written = _totals(result, answers)
    title = html.escape(f"{result.assignment}: feedback for ") + untrusted.html_text(result.student)
    note = f" ({AUTOGRADED_NOTE} and are not included)"
    totals = html.escape(auto) + ("<br>" + html.escape(written) if written else note)
    problems = "".join(f"<li>{untrusted.html_text(p)}</li>" for p in result.problems)
    answer_items = "".join(_answer_item(a) for a in answers)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{FEEDBACK_CSS}</style>"
        f"</head><body><h1>{title}</h1><p class='total'><b>{totals}</b></p>"
        + (
            f"<h2>Problems with the submission</h2><ul class='grader-danger'>{problems}</ul>"
            if problems
            else ""
        )
        + "<h2>Autograded checks</h2>"
        + "".join(task_html(t, Audience.STUDENT) for t in result.tasks)
        + (f"<h2>Written answers</h2><ul class='grader-checks'>{answer_items}</ul>" if answers else "")
        + "</body></html>\n"
    )


def feedback_summary_html(result: SubmissionResult) -> str:
    """The top of nbgrader's feedback page: each task's autograded total, and the problems."""
    items = "".join(
        f"<li>{_verdict(t.passed, _status(t.passed))} {html.escape(t.task)} {_points(t.points, t.max_points)}</li>"
        for t in result.tasks
    )
    problems = "".join(f"<li>{untrusted.html_text(p)}</li>" for p in result.problems)
    return (
        f"<div class='grader-task'><div><b>Autograded checks: {_points(result.score, result.max_score)}</b>"
        f" (each task's checks are listed under its check cell)</div><ul class='grader-checks'>{items}</ul>"
        + (f"<div><b>Problems with the submission</b></div><ul>{problems}</ul>" if problems else "")
        + "</div>"
    )


# ---- Gradescope and CSV ------------------------------------------------------------------------


def gradescope(result: SubmissionResult, answers: Sequence[WrittenAnswer] = ()) -> dict[str, Any]:
    """Gradescope's autograder ``results.json``: one test per check (hidden ones ``after_published``,
    without output), one per graded written answer (with the grader's comment)."""
    tests = [
        {
            "name": f"{c.task}: {c.check}",
            "score": c.points,
            "max_score": c.max_points,
            "visibility": "after_published" if c.hidden else "visible",
            "output": untrusted.plain(message_for(c, Audience.STUDENT)),
        }
        for c in result.checks
    ]
    graded = [a for a in answers if a.points is not None]
    tests += [
        {
            "name": f"written answer: {untrusted.plain(a.grade_id)}",
            "score": a.points,
            "max_score": a.max_points,
            "visibility": "visible",
            "output": untrusted.plain(a.comment),
        }
        for a in graded
    ]
    return {
        "score": result.score + sum(a.points or 0.0 for a in graded),
        "max_score": result.max_score + sum(a.max_points for a in graded),
        "output": "\n".join(untrusted.plain(p) for p in result.problems),
        "tests": tests,
    }


def grades_rows(
    results: Iterable[SubmissionResult], answers: Mapping[str, Sequence[WrittenAnswer]]
) -> list[list[str]]:
    """``grades.csv``: a header, then per student each task's points, autograded, manual, total."""
    results = sorted(results, key=lambda r: r.student)
    tasks = list(dict.fromkeys(t.task for r in results for t in r.tasks))
    rows = [["student", *map(untrusted.csv_cell, tasks), "autograded", "manual", "total"]]
    for result in results:
        per_task = result.task_points
        manual = manual_total(answers.get(result.student, ()))
        rows.append(
            [untrusted.csv_cell(result.student), *(f"{per_task.get(t, 0):g}" for t in tasks), f"{result.score:g}",
             "" if manual is None else f"{manual:g}", f"{result.score + (manual or 0):g}"]
        )  # fmt: skip
    return rows
