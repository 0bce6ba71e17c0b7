"""What a batch writes for people: feedback per student, Gradescope results, the class CSV.

Hidden checks appear only by name and score: never their inputs, expected values, messages or
tracebacks. Every function here reads the plain result dicts produced by the batch. Messages,
problems and the student id may carry student-chosen text: each goes through the neutraliser of
its sink (:mod:`grader.untrusted`) on its way into Markdown, HTML, Gradescope's text or the CSV.
"""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path
from typing import Any

from grader import untrusted

Result = dict[str, Any]


def _tasks(result: Result) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for check in result["checks"]:
        grouped.setdefault(check["task"], []).append(check)
    return grouped


def _check_line(check: dict[str, Any]) -> tuple[str, str]:
    """(label, public message or '') of one check as the student may see it."""
    status = "PASS" if check["passed"] else "FAIL"
    points = f"{check['points']:g}/{check['max_points']:g}"
    if check["visibility"] == "hidden":
        return f"{status} hidden check {check['check']} ({points})", ""
    return f"{status} {check['check']} ({points})", "" if check["passed"] else check["message"]


def feedback_markdown(result: Result) -> str:
    lines = [
        f"# {result['assignment']}: feedback for {untrusted.markdown(result['student'])}",
        "",
        f"**Autograded score: {result['score']:g}/{result['max_score']:g}** "
        "(written answers are graded by hand and are not included).",
        "",
    ]
    if result["problems"]:
        lines += (
            ["## Problems with the submission", ""]
            + [f"- {untrusted.markdown(p)}" for p in result["problems"]]
            + [""]
        )
    for task, checks in _tasks(result).items():
        earned, possible = sum(c["points"] for c in checks), sum(c["max_points"] for c in checks)
        lines += [f"## {task}: {earned:g}/{possible:g}", ""]
        for check in checks:
            label, message = _check_line(check)
            lines.append(f"- {label}" + (f": {untrusted.markdown(message)}" if message else ""))
        lines.append("")
    return "\n".join(lines)


def feedback_html(result: Result) -> str:
    rows = []
    for task, checks in _tasks(result).items():
        earned, possible = sum(c["points"] for c in checks), sum(c["max_points"] for c in checks)
        rows.append(f"<h2>{html.escape(task)}: {earned:g}/{possible:g}</h2><ul>")
        for check in checks:
            label, message = _check_line(check)
            colour = "#1a7f37" if check["passed"] else "#cf222e"
            detail = f": {untrusted.html_text(message)}" if message else ""
            rows.append(f"<li><span style='color:{colour}'>{html.escape(label)}</span>{detail}</li>")
        rows.append("</ul>")
    problems = "".join(f"<li>{untrusted.html_text(p)}</li>" for p in result["problems"])
    title = html.escape(f"{result['assignment']}: feedback for ") + untrusted.html_text(result["student"])
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
        f"<h1>{title}</h1><p><b>Autograded score: {result['score']:g}/{result['max_score']:g}</b> "
        "(written answers are graded by hand and are not included).</p>"
        + (f"<h2>Problems with the submission</h2><ul>{problems}</ul>" if problems else "")
        + "".join(rows)
        + "</body></html>\n"
    )


def gradescope(result: Result) -> dict[str, Any]:
    """Gradescope's autograder ``results.json`` format."""
    tests = []
    for check in result["checks"]:
        hidden = check["visibility"] == "hidden"
        tests.append(
            {
                "name": f"{check['task']}: {check['check']}",
                "score": check["points"],
                "max_score": check["max_points"],
                "visibility": "after_published" if hidden else "visible",
                "output": "" if hidden or check["passed"] else untrusted.plain(check["message"]),
            }
        )
    return {
        "score": result["score"],
        "max_score": result["max_score"],
        "output": "\n".join(untrusted.plain(p) for p in result["problems"]),
        "tests": tests,
    }


#: Our exports live here, outside nbgrader's folders: nbgrader's generate_feedback replaces
#: ``feedback/<student>/<assignment>/`` wholesale, and everything it does not own is kept.
EXPORTS = "exports"


def exports(out: Path) -> Path:
    """The folder of the grading folder ``out`` that holds the feedback, Gradescope and CSV exports."""
    return out / EXPORTS


def grades_csv(out: Path) -> Path:
    return exports(out) / "grades.csv"


def write_student(result: Result, out: Path) -> None:
    """results/<id>.json (all detail, for instructors); exports/feedback/<id>/<assignment>/feedback.{md,html}
    and exports/gradescope/<id>/results.json (for students)."""
    student, assignment = untrusted.file_name(result["student"]), result["assignment"]
    _write(out / "results" / f"{student}.json", json.dumps(result, indent=2) + "\n")
    feedback = exports(out) / "feedback" / student / assignment
    _write(feedback / "feedback.md", feedback_markdown(result))
    _write(feedback / "feedback.html", feedback_html(result))
    gradescope_json = exports(out) / "gradescope" / student / "results.json"
    _write(gradescope_json, json.dumps(gradescope(result), indent=2) + "\n")


def write_grades_csv(results: list[Result], manual: dict[str, dict[str, float | None]], path: Path) -> None:
    """One row per student: each task's points, autograded total, manual total, total."""
    tasks = list(dict.fromkeys(c["task"] for r in results for c in r["checks"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *map(untrusted.csv_cell, tasks), "autograded", "manual", "total"])
        for result in sorted(results, key=lambda r: r["student"]):
            per_task = {task: sum(c["points"] for c in checks) for task, checks in _tasks(result).items()}
            given = [s for s in manual.get(result["student"], {}).values() if s is not None]
            manual_total = sum(given) if given else ""
            total = result["score"] + (manual_total or 0)
            writer.writerow(
                [untrusted.csv_cell(result["student"]), *(f"{per_task.get(t, 0):g}" for t in tasks), f"{result['score']:g}",
                 manual_total if manual_total == "" else f"{manual_total:g}", f"{total:g}"]
            )  # fmt: skip


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
