"""The grading folder is an nbgrader course: nbgrader's layout, timestamps, and its own feedback tools.

One small class is graded once (no sandbox, no notebook execution: the layout is what is tested),
then nbgrader's ``generate_feedback`` and ``release_feedback`` run on it from the command line.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from grader import paths
from grader.autograde.batch import BatchOptions, autograde, upload_digest
from grader.autograde.intake import record_id_for, submission_time
from grader.autograde.roster import RosterStudent
from grader.demo import ASSIGNMENT, _student_files, _zip
from grader.results import SubmissionResult
from grader.sandbox.launch import SandboxPolicy

#: ada's manifest (``grader submit``), ben's newest zip entry, cy's folder modification time.
MANIFEST_TIME = "2026-03-01T12:30:00+01:00"
ZIP_TIME = (2026, 2, 3, 4, 5, 6)
FOLDER_TIME = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
EXPECTED_TIMES = {
    "ada": "2026-03-01 11:30:00.000000 UTC",
    "ben": "2026-02-03 04:05:06.000000 UTC",
    "cy": "2026-01-02 03:04:05.000000 UTC",
}
#: ada (manifest: 2026-03-01 11:30 UTC) is late; ben and cy are not.
DEADLINE = dt.datetime(2026, 2, 15, 23, 59)
TASK_FILES = {f"course_lib/{module}.py" for module in paths.TASK_MODULES}


def _zip_at(files: dict[str, bytes], when: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in files.items():
            bundle.writestr(zipfile.ZipInfo(name, date_time=when), data)
    return buffer.getvalue()


def make_uploads(folder: Path) -> list[Path]:
    """ada: a zip with a manifest; ben: a zip without one; cy: an unpacked folder."""
    folder.mkdir(parents=True)
    files = _student_files(paths.COURSE_LIB)
    manifest = json.dumps({"assignment": ASSIGNMENT, "timestamp": MANIFEST_TIME}).encode()
    (folder / "ada.zip").write_bytes(_zip({**files, "manifest.json": manifest}))
    (folder / "ben.zip").write_bytes(_zip_at(files, ZIP_TIME))
    for name, data in files.items():
        path = folder / "cy" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (FOLDER_TIME.timestamp(), FOLDER_TIME.timestamp()))
    return sorted(folder.iterdir())


def grade_class(tmp: Path, **extra: Any) -> tuple[Path, list[SubmissionResult]]:
    """Grade the three uploads into ``tmp/course``; returns the grading folder and the results."""
    out = tmp / "course"
    options = BatchOptions(
        ASSIGNMENT, out, policy=SandboxPolicy(use_bwrap=False), execute_notebooks=False, **extra
    )
    with ThreadPoolExecutor(1) as executor:
        results = autograde(make_uploads(tmp / "uploads"), options, executor=executor)
    return out, results


ROSTER = (
    RosterStudent("ada", "Ada", "Lovelace", "ada@example.edu"),
    RosterStudent("ben", "Ben", "Bitdiddle", None),
    RosterStudent("cy", None, None, None),
    RosterStudent("dee", "Dee", "Absent", "dee@example.edu"),  # on the roster, nothing uploaded
)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out, _ = grade_class(tmp_path_factory.mktemp("grading"), roster=ROSTER, deadline=DEADLINE)
    return out


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m nbgrader ARGS`` in the grading folder, as an instructor runs it."""
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, "--log-level=ERROR"],
        cwd=course, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_submitted_has_nbgraders_layout(course: Path):
    for student in EXPECTED_TIMES:
        folder = course / "submitted" / student / ASSIGNMENT
        expected = {f"{ASSIGNMENT}.ipynb", "timestamp.txt", "submission_secret.txt", *TASK_FILES}
        assert _files(folder) == expected, student


def test_an_upload_and_its_submitted_folder_are_one_submission(course: Path, tmp_path: Path):
    """A zip with a manifest, one without, a folder: each has the digest of the ``submitted/``
    folder the batch wrote from it (which nbgrader's Autograde regrades), and its result says so."""
    for upload in sorted((course.parent / "uploads").iterdir()):
        student = record_id_for(upload)
        stored = json.loads((course / "results" / f"{student}.json").read_text())
        digest = upload_digest(course / "submitted" / student, ASSIGNMENT)
        assert upload_digest(upload, ASSIGNMENT) == stored["upload_sha256"] == digest, student

    copy = tmp_path / "cy"
    shutil.copytree(course / "submitted" / "cy", copy)
    folder = copy / ASSIGNMENT
    (folder / "notes.txt").write_text("not graded")
    (folder / "submission_secret.txt").write_text("f" * 128)
    assert upload_digest(copy, ASSIGNMENT) == digest, "only what grading reads identifies a submission"
    for changed, text in (("timestamp.txt", "2026-01-02 03:04:06.000000 UTC"), (f"{ASSIGNMENT}.ipynb", "{}")):
        shutil.copytree(course / "submitted" / "cy", copy, dirs_exist_ok=True)
        (folder / changed).write_text(text)
        assert upload_digest(copy, ASSIGNMENT) != digest, changed


def test_timestamps_come_from_the_upload_in_nbgraders_format(course: Path):
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student, expected in EXPECTED_TIMES.items():
            for stage in ("submitted", "autograded"):
                stamp = (course / stage / student / ASSIGNMENT / "timestamp.txt").read_text()
                assert stamp == expected, (stage, student)
            submission = gradebook.find_submission(ASSIGNMENT, student)
            assert submission.timestamp == parse_utc(expected).replace(tzinfo=None), student


def test_submission_time_falls_back_from_manifest_to_zip_to_mtime(tmp_path: Path):
    upload = tmp_path / "x.zip"
    upload.write_bytes(b"")
    os.utime(upload, (FOLDER_TIME.timestamp(), FOLDER_TIME.timestamp()))
    assert submission_time("2026-03-01T11:30:00", ZIP_TIME, upload) == EXPECTED_TIMES["ada"]
    assert submission_time("not a date", ZIP_TIME, upload) == EXPECTED_TIMES["ben"]
    assert submission_time("9" * 100, None, upload) == EXPECTED_TIMES["cy"]
    assert submission_time("0001-01-01T00:00:00+01:00", None, upload) == EXPECTED_TIMES["cy"]
    assert submission_time("9999-12-31T23:59:59-01:00", (1979, 1, 1, 0, 0, 0), upload) == EXPECTED_TIMES["cy"]


def test_nbgrader_feedback_tools_work_and_keep_our_exports(course: Path):
    ours = {
        student: (course / "exports" / "feedback" / student / ASSIGNMENT / "feedback.html").read_text()
        for student in EXPECTED_TIMES
    }
    generated = nbgrader(course, "generate_feedback", ASSIGNMENT, "--force")
    assert generated.returncode == 0, generated.stderr
    released = nbgrader(course, "release_feedback", ASSIGNMENT)
    assert released.returncode == 0, released.stderr

    from nbgrader.utils import notebook_hash

    outbound = course / "exchange" / "dl-course" / "feedback"
    for student, page in ours.items():
        exported = course / "exports" / "feedback" / student / ASSIGNMENT / "feedback.html"
        assert exported.read_text() == page, f"nbgrader changed our feedback for {student}"
        assert (course / "exports" / "gradescope" / student / "results.json").is_file()
        secret = (course / "submitted" / student / ASSIGNMENT / "submission_secret.txt").read_text()
        html = outbound / f"{notebook_hash(secret=secret, notebook_id=ASSIGNMENT)}.html"
        assert (
            html.read_bytes()
            == (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_bytes()
        )
    assert (course / "exports" / "grades.csv").is_file()


def test_the_roster_fills_nbgraders_students(course: Path):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        stored = {s.id: RosterStudent(s.id, s.first_name, s.last_name, s.email) for s in gradebook.students}
        assert stored == {student.id: student for student in ROSTER}
        assert len(gradebook.find_assignment(ASSIGNMENT).submissions) == 3


def test_the_deadline_marks_late_submissions_the_nbgrader_way(course: Path):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert gradebook.find_assignment(ASSIGNMENT).duedate == DEADLINE
        late = {
            student: gradebook.find_submission(ASSIGNMENT, student).total_seconds_late
            for student in EXPECTED_TIMES
        }
    expected_ada = (dt.datetime(2026, 3, 1, 11, 30) - DEADLINE).total_seconds()
    assert late == pytest.approx({"ada": expected_ada, "ben": 0.0, "cy": 0.0})


def test_export_regenerates_the_exports_with_manual_grades(course: Path):
    import csv

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        grades = gradebook.find_submission(ASSIGNMENT, "ada").notebooks[0].grades
        answer = next(g for g in grades if g.cell.cell_type == "markdown")
        answer.manual_score = 1.5  # as a grader saves it in formgrader
        gradebook.db.commit()
    shutil.rmtree(course / "exports")
    process = subprocess.run(
        [sys.executable, "-m", "grader", "export", ASSIGNMENT, "--out", str(course)],
        cwd=paths.REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert process.returncode == 0, process.stdout + process.stderr
    with (course / "exports" / "grades.csv").open(newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(EXPECTED_TIMES)
    assert rows["ada"]["manual"] == "1.5" and rows["ben"]["manual"] == ""
    assert float(rows["ada"]["total"]) == float(rows["ada"]["autograded"]) + 1.5
    for student in EXPECTED_TIMES:
        assert (course / "exports" / "feedback" / student / ASSIGNMENT / "feedback.md").is_file()
        assert (course / "exports" / "gradescope" / student / "results.json").is_file()


def test_a_rerun_rewrites_every_export_and_regrades_an_older_layout(course: Path):
    shutil.rmtree(course / "exports")
    old_layout = course / "submitted" / "ben" / ASSIGNMENT
    (old_layout / "timestamp.txt").unlink()  # as a grading folder from before nbgrader's layout
    options = BatchOptions(ASSIGNMENT, course, policy=SandboxPolicy(use_bwrap=False), execute_notebooks=False)
    with ThreadPoolExecutor(1) as executor:
        autograde(sorted((course.parent / "uploads").iterdir()), options, executor=executor)
    summary = json.loads((course / "summary.json").read_text())
    assert (summary["graded_now"], summary["skipped_unchanged"]) == (1, 2)
    assert (old_layout / "timestamp.txt").read_text() == EXPECTED_TIMES["ben"]
    for student in EXPECTED_TIMES:
        assert (course / "exports" / "feedback" / student / ASSIGNMENT / "feedback.html").is_file()
