"""What a batch writes for people: feedback per student, Gradescope results, the class CSV.

Where each file goes; what is in it is :mod:`grader.render`'s (hidden checks by name and score
only, student-chosen text neutralised per sink).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from grader import render, untrusted
from grader.results import SubmissionResult, WrittenAnswer

#: Our exports live here, outside nbgrader's folders: nbgrader's generate_feedback replaces
#: ``feedback/<student>/<assignment>/`` wholesale, and everything it does not own is kept.
EXPORTS = "exports"


def exports(out: Path) -> Path:
    """The folder of the grading folder ``out`` that holds the feedback, Gradescope and CSV exports."""
    return out / EXPORTS


def grades_csv(out: Path) -> Path:
    return exports(out) / "grades.csv"


def write_student(result: SubmissionResult, out: Path, answers: Sequence[WrittenAnswer] = ()) -> None:
    """results/<id>.json (all detail, for instructors); exports/feedback/<id>/<assignment>/feedback.{md,html}
    and exports/gradescope/<id>/results.json (for students; with the manual grades in ``answers``)."""
    student, assignment = untrusted.file_name(result.student), result.assignment
    _write(out / "results" / f"{student}.json", json.dumps(result.to_json(), indent=2) + "\n")
    feedback = exports(out) / "feedback" / student / assignment
    _write(feedback / "feedback.md", render.feedback_markdown(result, answers))
    _write(feedback / "feedback.html", render.feedback_html(result, answers))
    gradescope_json = exports(out) / "gradescope" / student / "results.json"
    _write(gradescope_json, json.dumps(render.gradescope(result, answers), indent=2) + "\n")


def read_results(out: Path, assignment: str) -> list[SubmissionResult]:
    """Every stored result of ``assignment`` in the grading folder ``out``."""
    results = []
    for path in sorted((out / "results").glob("*.json")):
        data = json.loads(path.read_text())
        if data.get("assignment") == assignment:
            results.append(SubmissionResult.from_json(data))
    return results


def write_grades_csv(
    results: Sequence[SubmissionResult], answers: Mapping[str, Sequence[WrittenAnswer]], path: Path
) -> None:
    """One row per student: each task's points, autograded total, manual total, total."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(render.grades_rows(results, answers))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
