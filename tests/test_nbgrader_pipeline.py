"""nbgrader's own tools on the grading folder use our grading (issue 14's six problems).

1. generate_feedback keeps our exports, and its pages show each task's checks (no pointer to a
   report that no longer exists);
2. manual grades and comments reach grades.csv, the Gradescope JSON and the released feedback;
3. graders see every check's message in the autograded notebooks, students never a hidden one;
4. ``nbgrader autograde`` grades with our sandboxed checks: the same scores as the batch;
5. (names, timestamps, late: tests/test_grading_folder.py and tests/test_roster.py);
6. check cells carry nothing nbgrader could read as a score.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from grader import paths, render
from grader.autograde.batch import BatchOptions, autograde
from grader.autograde.nbgrader_hooks import math_typesetter, write_check_tables
from grader.checks import registry
from grader.demo import ASSIGNMENT
from grader.results import CheckResult
from grader.sandbox.launch import SandboxPolicy
from tests.formgrade_render import formgrade_html
from tests.test_grading_folder import ROSTER, grade_class, nbgrader

HIDDEN_CANARY = "HIDDEN-CANARY only graders may read this"
PUBLIC_CANARY = "PUBLIC-CANARY <b>x</b> & y"
COMMENT = "COMMENT-CANARY: well argued"


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out, _ = grade_class(tmp_path_factory.mktemp("pipeline"), roster=ROSTER)
    return out


def _notebook(course: Path, student: str, stage: str = "autograded") -> nbformat.NotebookNode:
    return nbformat.read(course / stage / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)


def _check_cells(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {
        cell.metadata.nbgrader["grade_id"]: cell
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("grade")
    }


def _results(course: Path, student: str) -> dict:
    return json.loads((course / "results" / f"{student}.json").read_text())


def test_graders_see_every_check_with_its_message(course: Path):
    result = _results(course, "ada")
    cells = _check_cells(_notebook(course, "ada"))
    tasks = {check["task"] for check in result["checks"]}
    assert {t.replace(".", "-") for t in tasks} == set(cells)
    for check in result["checks"]:
        cell = cells[check["task"].replace(".", "-")]
        shown = cell.outputs[0]["data"]["text/html"]
        assert check["check"] in shown
        assert render.untrusted.html_text(check["message"], 4000) in shown, check["check"]
    page = formgrade_html(_notebook(course, "ada"), course)  # what formgrader serves
    hidden = next(c for c in result["checks"] if c["visibility"] == "hidden")
    assert f"hidden check {hidden['check']}" in page and "grader-danger" in page


def test_check_tables_show_hidden_messages_to_graders_only():
    checks = [
        CheckResult("pub", ASSIGNMENT, "Linear.forward", "public", 0.0, 1.0, False, PUBLIC_CANARY),
        CheckResult("hid", ASSIGNMENT, "Linear.forward", "hidden", 0.0, 2.0, False, HIDDEN_CANARY),
    ]
    released = nbformat.read(paths.ASSIGNMENTS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    for audience, hidden_shown in ((render.Audience.GRADER, True), (render.Audience.STUDENT, False)):
        notebook = write_check_tables(nbformat.from_dict(released), checks, audience)
        cell = _check_cells(notebook)["Linear-forward"]
        (output,) = cell.outputs
        assert output["output_type"] == "display_data"
        for text in output["data"].values():
            assert ("HIDDEN-CANARY" in text) is hidden_shown, (audience, text)
            assert "hidden check hid" in text and "0/3" in text
        assert "PUBLIC-CANARY &lt;b&gt;x&lt;/b&gt; &amp; y" in output["data"]["text/html"]


def test_check_cells_hold_nothing_nbgrader_reads_as_a_score(course: Path):
    for student in ("ada", "ben", "cy"):
        for grade_id, cell in _check_cells(_notebook(course, student)).items():
            kinds = [o["output_type"] for o in cell.outputs]
            assert kinds == ["display_data"], (student, grade_id, kinds)
    config = (course / "nbgrader_config.py").read_text()
    assert "SaveAutoGrades" not in config and "SandboxAutograde" in config


def _plant_canaries(course: Path, student: str) -> None:
    """Give one hidden and one public check of ``student`` messages the pages must treat apart."""
    path = course / "results" / f"{student}.json"
    result = json.loads(path.read_text())
    hidden = next(c for c in result["checks"] if c["visibility"] == "hidden" and not c["passed"])
    public = next(c for c in result["checks"] if c["visibility"] == "public" and not c["passed"])
    hidden["message"], public["message"] = HIDDEN_CANARY, PUBLIC_CANARY
    path.write_text(json.dumps(result))


def _grade_by_hand(course: Path, student: str, score: float, comment: str) -> str:
    """As a grader saves a written answer's grade and comment in formgrader; returns its grade id."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission(ASSIGNMENT, student).notebooks[0]
        answer = next(g for g in notebook.grades if g.cell.cell_type == "markdown")
        answer.manual_score = score
        next(c for c in notebook.comments if c.name == answer.name).manual_comment = comment
        gradebook.db.commit()
        return answer.name


def _released_feedback(course: Path, student: str) -> str:
    from nbgrader.utils import notebook_hash

    secret = (course / "submitted" / student / ASSIGNMENT / "submission_secret.txt").read_text()
    name = f"{notebook_hash(secret=secret, notebook_id=ASSIGNMENT)}.html"
    return (course / "exchange" / "dl-course" / "feedback" / name).read_text()


def test_manual_grades_and_check_tables_reach_every_feedback(course: Path):
    _plant_canaries(course, "ben")
    answer = _grade_by_hand(course, "ben", 1.5, COMMENT)
    exported = subprocess.run(
        [sys.executable, "-m", "grader", "export", ASSIGNMENT, "--out", str(course)],
        cwd=paths.REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stdout + exported.stderr
    with (course / "exports" / "grades.csv").open(newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["student"] == "ben")
    assert row["manual"] == "1.5" and float(row["total"]) == float(row["autograded"]) + 1.5
    gradescope = json.loads((course / "exports" / "gradescope" / "ben" / "results.json").read_text())
    written = next(t for t in gradescope["tests"] if t["name"] == f"written answer: {answer}")
    assert (written["score"], written["output"]) == (1.5, COMMENT)
    assert gradescope["score"] == pytest.approx(_results(course, "ben")["score"] + 1.5)
    ours = (course / "exports" / "feedback" / "ben" / ASSIGNMENT / "feedback.html").read_text()
    assert COMMENT in ours and "Written answers: 1.5/" in ours and HIDDEN_CANARY not in ours

    for command in ("generate_feedback", "release_feedback"):
        process = nbgrader(
            course, command, ASSIGNMENT, *(["--force"] if command == "generate_feedback" else [])
        )
        assert process.returncode == 0, process.stderr
    page = _released_feedback(course, "ben")
    assert "see your feedback report" not in page
    assert "Autograded checks: 0/" in page and "Linear.forward: 0/5 points" in page
    assert "PUBLIC-CANARY &lt;b&gt;x&lt;/b&gt; &amp; y" in page
    assert "HIDDEN-CANARY" not in page, "a hidden check's message reached a student"
    hidden_names = [c["check"] for c in _results(course, "ben")["checks"] if c["visibility"] == "hidden"]
    assert all(f"hidden check {name}" in page for name in hidden_names)
    assert COMMENT in page and "Score: 1.5 / 2.0" in page
    assert "cdnjs" not in page and "<script" not in page, "feedback must need no CDN and run no script"
    assert ("<mjx-container" in page) is (math_typesetter() is not None)
    assert (course / "exports" / "feedback" / "ben" / ASSIGNMENT / "feedback.html").read_text() == ours


@pytest.mark.slow
def test_nbgrader_autograde_grades_like_the_batch(course: Path):
    from nbgrader.api import Gradebook

    def scores() -> dict[str, float | None]:
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
            notebook = gradebook.find_submission(ASSIGNMENT, "cy").notebooks[0]
            return {g.name: g.auto_score for g in notebook.grades}

    before, batch = scores(), _results(course, "cy")
    (course / "results" / "cy.json").unlink()  # nbgrader's run must write it anew
    process = nbgrader(course, "autograde", ASSIGNMENT, "--student", "cy", "--force")
    assert process.returncode == 0, process.stderr
    after, regraded = scores(), _results(course, "cy")
    assert after == before
    assert [(c["check"], c["points"]) for c in regraded["checks"]] == [
        (c["check"], c["points"]) for c in batch["checks"]
    ]
    assert regraded["timestamp"] == batch["timestamp"] and regraded["status"] == "graded"
    cells = _check_cells(_notebook(course, "cy"))
    task_count = len({c.task.name for c in registry.select(registry.load_checks(), [ASSIGNMENT])})
    assert len(cells) == task_count and all(c.outputs for c in cells.values())


def _batch(course: Path, uploads: list[Path]) -> dict[str, int]:
    """An ordinary batch run over ``uploads`` into ``course``; returns its graded/skipped counts."""
    options = BatchOptions(ASSIGNMENT, course, policy=SandboxPolicy(use_bwrap=False), execute_notebooks=False)
    with ThreadPoolExecutor(1) as executor:
        autograde(uploads, options, executor=executor)
    summary = json.loads((course / "summary.json").read_text())
    return {key: summary[key] for key in ("graded_now", "skipped_unchanged")}


@pytest.mark.slow
def test_the_autograde_button_and_the_batch_agree_on_what_is_already_graded(tmp_path: Path):
    """The button (``nbgrader autograde``) always regrades; a batch run afterwards, over the
    uploads or over ``submitted/``, regrades only what changed."""
    course, _ = grade_class(tmp_path)
    uploads = sorted((tmp_path / "uploads").iterdir())
    submitted = sorted((course / "submitted").iterdir())
    before = (course / "results" / "cy.json").stat().st_mtime_ns
    process = nbgrader(course, "autograde", ASSIGNMENT, "--student", "cy", "--force")
    assert process.returncode == 0, process.stderr
    assert (course / "results" / "cy.json").stat().st_mtime_ns != before, "the button must regrade"
    assert _batch(course, uploads) == {"graded_now": 0, "skipped_unchanged": 3}
    assert _batch(course, submitted) == {"graded_now": 0, "skipped_unchanged": 3}

    # a new version collected into submitted/, and one uploaded again: each is regraded once
    task_file = course / "submitted" / "ben" / ASSIGNMENT / "course_lib" / "layers.py"
    task_file.write_bytes((paths.SOLUTION_LIB / "layers.py").read_bytes())
    assert _batch(course, submitted) == {"graded_now": 1, "skipped_unchanged": 2}
    assert _results(course, "ben")["tasks"]["Linear.forward"] > 0
    assert _batch(course, submitted) == {"graded_now": 0, "skipped_unchanged": 3}
    (tmp_path / "uploads" / "cy" / "course_lib" / "layers.py").write_text("raise SystemExit\n")
    assert _batch(course, uploads) == {"graded_now": 2, "skipped_unchanged": 1}  # ben's zip is the old one


def test_formgrader_shows_the_assignment_released(course: Path):
    """Problem 5: the assignment stayed "draft"; nbgrader's own release puts it in the exchange."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    assignment = NbGraderAPI(config=config).get_assignment(ASSIGNMENT)
    assert assignment["status"] == "released", assignment
