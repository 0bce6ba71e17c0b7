"""The result model round-trips through JSON, totals are computed once, and a crash is a status."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from grader import render
from grader.autograde import reports
from grader.autograde.batch import BatchOptions, _done, upload_digest
from grader.results import CheckResult, Status, SubmissionResult, WrittenAnswer
from grader.sandbox.launch import SandboxPolicy

CHECKS = [
    CheckResult("a_small", "a1_fully_connected", "Linear.forward", "public", 1.0, 1.0, True, ""),
    CheckResult("a_big", "a1_fully_connected", "Linear.forward", "hidden", 0.0, 2.0, False, "wrong at [3]"),
    CheckResult("b_small", "a1_fully_connected", "ReLU.forward", "public", 0.5, 1.0, False, "half"),
]


def _result(status: Status = Status.GRADED) -> SubmissionResult:
    return SubmissionResult(
        "ada", "a1_fully_connected", status, list(CHECKS), ["p"], "bubblewrap", "ada.zip", "ab", None, 1.5
    )


def test_json_round_trip_keeps_everything_and_the_stored_keys():
    result = _result()
    stored = json.loads(json.dumps(result.to_json()))
    assert SubmissionResult.from_json(stored) == result
    assert stored["tasks"] == {"Linear.forward": 1.0, "ReLU.forward": 0.5}
    assert (stored["score"], stored["max_score"], stored["status"]) == (1.5, 4.0, "graded")
    legacy = {k: v for k, v in stored.items() if k not in ("status", "isolation")}
    assert SubmissionResult.from_json(legacy).status is Status.GRADED


def test_per_task_totals_are_the_same_in_every_output():
    result = _result()
    answers = [WrittenAnswer("q_one", 1.5, 2.0, "ok"), WrittenAnswer("q_two", None, 3.0)]
    (linear, relu) = result.tasks
    assert (linear.points, linear.max_points, relu.points, relu.max_points) == (1.0, 3.0, 0.5, 1.0)
    assert "## Linear.forward: 1/3" in render.feedback_markdown(result, answers)
    assert "Linear.forward: 1/3 points" in render.feedback_html(result, answers)
    assert "Linear.forward                       1/3" in render.terminal_table(result.checks)
    rows = list(
        csv.reader(
            io.StringIO("\n".join(",".join(r) for r in render.grades_rows([result], {"ada": answers})))
        )
    )
    assert rows[1] == ["ada", "1", "0.5", "1.5", "1.5", "3"]
    gradescope = render.gradescope(result, answers)
    assert (gradescope["score"], gradescope["max_score"]) == (3.0, 6.0)  # graded answers only


def test_a_crash_is_retried_by_status_whatever_its_problems_say(tmp_path: Path):
    upload = tmp_path / "ada.zip"
    upload.write_bytes(b"not a zip")
    options = BatchOptions("a1_fully_connected", tmp_path / "out", SandboxPolicy(use_bwrap=False))
    (options.out / "submitted" / "ada" / "a1_fully_connected").mkdir(parents=True)
    (options.out / "submitted" / "ada" / "a1_fully_connected" / "timestamp.txt").write_text("x")
    for status, done in ((Status.GRADED, True), (Status.EMPTY, True), (Status.CRASHED, False)):
        result = _result(status)
        result.problems = ["grading failed, please report"]
        result.upload_sha256 = upload_digest(upload, options.assignment)
        reports.write_student(result, options.out)
        assert _done(upload, options) is done, status
