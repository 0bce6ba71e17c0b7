"""The single store of grades: nbgrader's gradebook inside an nbgrader course directory.

``prepare`` lays out ``DIR`` as an nbgrader course (``source/``, ``release/``, ``submitted/``,
``autograded/``, ``feedback/``, ``nbgrader_config.py``) and lets nbgrader itself create the
assignment's notebooks and grade cells from the source notebook. ``record`` then writes each
task's autograded score (from the sandboxed checks) into the grade cell of that task (its
``grade_id``, see :class:`grader.checks.tasks.Task`), and marks written answers for manual grading; manual scores given in formgrader are never
touched, so re-running a batch updates in place.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import warnings
from collections.abc import Iterable
from pathlib import Path

from grader import paths
from grader.autograde.roster import RosterStudent
from grader.checks.tasks import TASKS
from grader.results import WrittenAnswer

CONFIG = """\
# nbgrader configuration of this grading folder (written by python -m grader autograde).
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.db_url = {db_url!r}
c.Exchange.root = {exchange!r}
# Student notebooks are hostile markup: formgrader and feedback pages must not run their script.
c.HTMLExporter.sanitize_html = True
# Autograde (button and `nbgrader autograde`) grades with the sandboxed checks, as `python -m grader
# autograde` does; feedback shows students each task's checks (hidden ones by name and score only).
c.Autograde.autograde_preprocessors = [
    "grader.autograde.nbgrader_hooks.SandboxAutograde",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "grader.autograde.nbgrader_hooks.StudentFeedback",
]
c.GenerateFeedback.post_convert_hook = "grader.autograde.nbgrader_hooks.feedback_written"  # math offline
# Our templates before formgrader's own: its pages load MathJax from this Jupyter server, not a CDN.
c.HTMLExporter.extra_template_basedirs = {template_basedirs!r}
"""


COURSE_ID = "dl-course"


def db_url(root: Path) -> str:
    return f"sqlite:///{(root / 'gradebook.db').resolve()}"


def prepare(root: Path, assignment: str, url: str | None = None) -> str:
    """Make ``root`` an nbgrader course with ``assignment`` released into its gradebook; returns the db URL."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    from grader.autograde.nbgrader_hooks import template_basedirs

    paths.interpreter_tools_on_path()  # nbgrader creates the gradebook with alembic
    url = url or db_url(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "exchange").mkdir(exist_ok=True)
    (root / "nbgrader_config.py").write_text(
        CONFIG.format(
            root=str(root.resolve()),
            course_id=COURSE_ID,
            db_url=url,
            exchange=str((root / "exchange").resolve()),
            template_basedirs=template_basedirs(),
        )
    )
    source = root / "source" / assignment
    if _released_already(root, assignment, url):
        return url  # a re-run (late uploads, a resumed batch) skips nbgrader's ~3 s of release work
    if source.exists():
        shutil.rmtree(source)
    shutil.copytree(paths.SOLUTIONS / assignment, source, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    config = Config()
    config.CourseDirectory.root = str(root.resolve())
    config.CourseDirectory.db_url = url
    config.CourseDirectory.course_id = COURSE_ID
    config.Exchange.root = str((root / "exchange").resolve())
    config.Application.log_level = logging.ERROR
    # nbgrader's own release into the course's exchange: formgrader shows the assignment as released
    # (students get it from this repository's release, not from the exchange).
    config.ExchangeReleaseAssignment.force = True  # solutions/ changed: release the new version
    api = NbGraderAPI(config=config)
    for step in (
        lambda: api.generate_assignment(assignment, force=True, create=True),
        lambda: api.release_assignment(assignment),
    ):
        result = step()
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not set up {assignment}:\n{result.get('log', '')}")
    return url


def released_to_exchange(root: Path, assignment: str) -> Path:
    """Where nbgrader's release_assignment puts ``assignment`` in the grading folder ``root``."""
    return root / "exchange" / COURSE_ID / "outbound" / assignment


def _released_already(root: Path, assignment: str, url: str) -> bool:
    """True when this course already released exactly the current ``solutions/<assignment>``
    into this gradebook."""
    source = root / "source" / assignment
    if not (
        source.is_dir()
        and (root / "release" / assignment).is_dir()
        and released_to_exchange(root, assignment).is_dir()
    ):
        return False
    if _files(source) != _files(paths.SOLUTIONS / assignment):
        return False
    try:
        return bool(notebook_names(url, assignment))
    except Exception:  # no such assignment (or no gradebook) yet
        return False


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and ".ipynb_checkpoints" not in p.parts
    }


def notebook_names(url: str, assignment: str) -> list[str]:
    """Notebook names (without .ipynb) the gradebook expects for ``assignment``."""
    from nbgrader.api import Gradebook

    with Gradebook(url) as gradebook:
        return [notebook.name for notebook in gradebook.find_assignment(assignment).notebooks]


def record(
    url: str, assignment: str, student: str, task_scores: dict[str, float], timestamp: str | None
) -> None:
    """Create or update ``student``'s submission: autograded task scores; answers await manual grading."""
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    # nbgrader's add_submission triggers SQLAlchemy autoflush warnings that are harmless here.
    with warnings.catch_warnings(), Gradebook(url) as gradebook:
        warnings.simplefilter("ignore", SAWarning)
        gradebook.update_or_create_student(student)
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            submission = gradebook.add_submission(assignment, student)
        when = _parse_timestamp(timestamp)
        if when is not None:
            submission.timestamp = when
        scores = {TASKS[task].grade_id: points for task, points in task_scores.items()}
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.name in scores:
                    grade.auto_score = scores[grade.name]
                    grade.needs_manual_grade = False
                elif is_written_answer(grade.cell.cell_type):  # a person grades it in formgrader
                    grade.auto_score = None
                    grade.needs_manual_grade = grade.manual_score is None
        gradebook.db.commit()


def add_roster(url: str, students: Iterable[RosterStudent]) -> None:
    """Create or update nbgrader's students with the roster's names and emails (already
    neutralised by :mod:`grader.autograde.roster`); students absent from the roster are kept."""
    from nbgrader.api import Gradebook

    with Gradebook(url) as gradebook:
        for student in students:
            gradebook.update_or_create_student(
                student.id, first_name=student.first_name, last_name=student.last_name, email=student.email
            )


def parse_deadline(text: str) -> dt.datetime:
    """An instructor's ``--deadline`` (ISO or nbgrader's format; UTC unless a zone is given) as the
    naive UTC datetime nbgrader stores. Raises ValueError with the reason."""
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(text)
    except (ValueError, OverflowError) as error:
        raise ValueError(f"not a date and time: {text!r} (e.g. '2026-03-01 23:59 UTC')") from error


def set_deadline(url: str, assignment: str, deadline: dt.datetime) -> None:
    """nbgrader's due date of ``assignment``: a submission whose timestamp is later is late
    (``Submission.total_seconds_late``; formgrader and ``nbgrader export`` show it)."""
    from nbgrader.api import Gradebook

    with Gradebook(url) as gradebook:
        gradebook.update_or_create_assignment(assignment, duedate=deadline)


def _parse_timestamp(timestamp: object) -> object:
    """The manifest's timestamp as the datetime nbgrader stores, or None if it is not one.

    It comes from the student's zip: anything that is not a date is ignored (a string assigned
    directly makes SQLAlchemy fail at commit, which stopped the whole batch).
    """
    from nbgrader.utils import parse_utc

    if not isinstance(timestamp, str) or not timestamp or len(timestamp) > 64:
        return None
    try:
        return parse_utc(timestamp)
    except (ValueError, OverflowError, TypeError):
        return None


def written_answers(url: str, assignment: str) -> dict[str, list[WrittenAnswer]]:
    """{student: their written answers (markdown grade cells): manual grade, points, comment}."""
    from nbgrader.api import Gradebook

    answers: dict[str, list[WrittenAnswer]] = {}
    with Gradebook(url) as gradebook:
        for submission in gradebook.find_assignment(assignment).submissions:
            for notebook in submission.notebooks:
                comments = {c.name: c.manual_comment or c.auto_comment or "" for c in notebook.comments}
                answers.setdefault(submission.student_id, []).extend(
                    WrittenAnswer(
                        grade.name, grade.manual_score, float(grade.max_score), comments.get(grade.name, "")
                    )
                    for grade in notebook.grades
                    if is_written_answer(grade.cell.cell_type)
                )
    return answers


def is_written_answer(cell_type: str) -> bool:
    """A grade cell a person grades: the markdown ones (every code grade cell is a task's checks)."""
    return cell_type == "markdown"
