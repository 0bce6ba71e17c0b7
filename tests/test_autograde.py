"""Batch semantics: resuming, regrading, manual grades kept, sandbox and local agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import paths
from grader.autograde.batch import BatchOptions, autograde
from grader.autograde.gradebook import notebook_names, prepare
from grader.checks.reference import load_reference
from grader.cli.check import grade
from grader.demo import ASSIGNMENT, _student_files, _zip
from grader.results import SubmissionResult
from grader.sandbox.launch import SandboxPolicy, bwrap_path

SANDBOX = SandboxPolicy(use_bwrap=bwrap_path() is not None)


def _uploads(folder: Path) -> list[Path]:
    folder.mkdir()
    partial = _student_files(paths.COURSE_LIB)
    partial["course_lib/layers.py"] = (paths.SOLUTION_LIB / "layers.py").read_bytes()
    for student, files in {"ada": _student_files(paths.SOLUTION_LIB), "ben": partial}.items():
        (folder / f"{student}.zip").write_bytes(_zip(files))
    return sorted(folder.iterdir())


def _stable(result: SubmissionResult) -> dict:
    return {key: value for key, value in result.to_json().items() if key != "seconds"}


@pytest.mark.slow
def test_rerun_finishes_an_interrupted_batch_and_keeps_manual_grades(tmp_path: Path):
    from nbgrader.api import Gradebook

    uploads = _uploads(tmp_path / "uploads")
    options = BatchOptions(ASSIGNMENT, tmp_path / "out", SANDBOX, execute_notebooks=False)
    first = {r.student: _stable(r) for r in autograde(uploads, options)}

    # An interrupted batch: ben's result was never written. A grader grades ada's answer by hand.
    (options.out / "results" / "ben.json").unlink()
    url = f"sqlite:///{options.out / 'gradebook.db'}"
    with Gradebook(url) as gradebook:
        answer = next(
            g
            for g in gradebook.find_submission(ASSIGNMENT, "ada").notebooks[0].grades
            if g.name.startswith("q_")
        )
        answer.manual_score = 1.5
        answer_id = answer.name
        gradebook.db.commit()
    second = {r.student: _stable(r) for r in autograde(uploads, options)}
    summary = json.loads((options.out / "summary.json").read_text())
    assert (summary["graded_now"], summary["skipped_unchanged"]) == (1, 1)
    assert second == first

    forced = {
        r.student: _stable(r) for r in autograde(uploads, BatchOptions(**{**vars(options), "force": True}))
    }
    assert forced == first, "grading the same submissions twice must give identical results"
    with Gradebook(url) as gradebook:
        assert len(gradebook.find_assignment(ASSIGNMENT).submissions) == 2
        grades = {g.name: g for g in gradebook.find_submission(ASSIGNMENT, "ada").notebooks[0].grades}
        assert grades[answer_id].manual_score == 1.5
        assert grades["Linear-forward"].auto_score == first["ada"]["tasks"]["Linear.forward"]
    rows = (options.out / "exports" / "grades.csv").read_text().splitlines()
    assert rows[1].startswith("ada,") and rows[1].endswith(
        f",{first['ada']['score']:g},1.5,{first['ada']['score'] + 1.5:g}"
    )


@pytest.mark.slow
def test_sandboxed_and_local_runs_agree_for_honest_code():
    reference = load_reference()
    results = [
        [
            (r.check, r.points, r.message)
            for r in grade(paths.SOLUTIONS, hidden=True, policy=policy, reference=reference)
        ]
        for policy in (SandboxPolicy(use_bwrap=False), SANDBOX)
    ]
    assert results[0] == results[1]


def test_prepare_skips_an_unchanged_release_and_redoes_a_changed_one(tmp_path: Path):
    assignment = "a3_dropout"
    url = prepare(tmp_path, assignment)
    released = tmp_path / "release" / assignment / f"{assignment}.ipynb"
    source = tmp_path / "source" / assignment / f"{assignment}.ipynb"
    stamp = released.stat().st_mtime_ns
    assert prepare(tmp_path, assignment) == url
    assert released.stat().st_mtime_ns == stamp, "an unchanged source was released again"
    source.write_text("{}")  # the course folder no longer matches solutions/
    prepare(tmp_path, assignment)
    assert released.stat().st_mtime_ns != stamp
    assert source.read_bytes() == (paths.SOLUTIONS / assignment / f"{assignment}.ipynb").read_bytes()
    assert notebook_names(url, assignment) == [assignment]
