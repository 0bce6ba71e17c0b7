"""Badly named uploads: reported as invalid under a safe derived id, never a crash, and their raw
names (terminal escapes, newlines, formulas, dot files, 240 characters) reach no file name, CSV
row, report or terminal line."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from grader.autograde.batch import BatchOptions, autograde
from grader.autograde.intake import STUDENT_ID
from grader.cli import autograde as cli
from grader.sandbox.launch import SandboxPolicy
from tests.attacks.round2_surface import BAD_UPLOAD_NAMES

ASSIGNMENT = "a1_fully_connected"
#: What a terminal or a spreadsheet would act on: C0/C1 controls but newline, DEL, bidi overrides.
UNSAFE_CHARS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("names")
    uploads, out = root / "uploads", root / "out"
    uploads.mkdir()
    made = []
    for name in BAD_UPLOAD_NAMES:
        path = uploads / name
        if name.endswith(".zip"):
            with zipfile.ZipFile(path, "w") as bundle:
                bundle.writestr("course_lib/layers.py", "x = 1\n")
        else:
            (path / "course_lib").mkdir(parents=True)
            (path / "course_lib" / "layers.py").write_text("x = 1\n")
        made.append(path)
    options = BatchOptions(ASSIGNMENT, out, policy=SandboxPolicy(use_bwrap=False), execute_notebooks=False)
    printed = io.StringIO()
    with ThreadPoolExecutor(1) as executor, contextlib.redirect_stdout(printed):
        results = autograde(made, options, executor=executor)
    return {"results": results, "out": out, "uploads": made, "printed": printed.getvalue()}


def test_every_bad_upload_is_reported_invalid_not_crashed(graded):
    results = graded["results"]
    assert len(results) == len(BAD_UPLOAD_NAMES)
    assert len({r.student for r in results}) == len(results), "two uploads share a derived id"
    for result in results:
        assert STUDENT_ID.match(result.student), result.student
        assert result.student.startswith("invalid-")
        assert not any("grading failed" in p for p in result.problems), result.problems
        assert any("not named by a student id" in p for p in result.problems), result.problems
        assert result.score == 0
        for folder in ("exports/feedback", "exports/gradescope", "autograded", "submitted"):
            assert (graded["out"] / folder / result.student).is_dir(), (folder, result.student)
        assert (graded["out"] / "results" / f"{result.student}.json").is_file()


def test_raw_names_reach_no_file_name(graded):
    for path in graded["out"].rglob("*"):
        assert re.fullmatch(r"[A-Za-z0-9_.@-]+", path.name), f"unsafe file name {path.name!r}"
        assert not path.name.startswith("."), path


def test_raw_names_reach_no_csv_cell_report_or_terminal(graded, capsys):
    out = graded["out"]
    with (out / "exports" / "grades.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == len(BAD_UPLOAD_NAMES) + 1
    for row in rows:
        for cell in row:
            assert not UNSAFE_CHARS.search(cell) and not cell.startswith(("=", "+", "@")), row
            assert not cell.startswith("-") or re.fullmatch(r"-?\d+(\.\d+)?", cell), row
    reports = [
        *out.glob("exports/feedback/**/feedback.*"),
        *out.glob("exports/gradescope/*/results.json"),
        out / "summary.json",
    ]
    assert len(reports) == 3 * len(BAD_UPLOAD_NAMES) + 1
    for path in reports:
        text = path.read_text()
        assert not UNSAFE_CHARS.search(text), f"{path}: {UNSAFE_CHARS.search(text)!r}"
        if path.suffix == ".json":
            assert not UNSAFE_CHARS.search(json.dumps(json.loads(text), ensure_ascii=False)), path
    cli.print_table(graded["results"], out)
    printed = graded["printed"] + capsys.readouterr().out
    assert graded["printed"].count("not named by a student id") == len(BAD_UPLOAD_NAMES), printed
    assert not UNSAFE_CHARS.search(printed), repr(UNSAFE_CHARS.search(printed))
