"""The result model: what grading one submission produced, typed, with a JSON round-trip.

- :class:`CheckResult`: one check (its points, whether it passed, the message; hidden checks'
  messages are for instructors only).
- :class:`TaskScore`: one task's checks and totals; :func:`task_scores` is the one place per-task
  totals are computed.
- :class:`WrittenAnswer`: a written answer's manual grade and the grader's comment (from the
  gradebook: they are never part of a stored result).
- :class:`SubmissionResult`: one student's upload: an explicit :class:`Status`, how it was isolated,
  the problems found, every check. ``to_json``/``from_json`` give the format of
  ``results/<student>.json`` (unchanged keys; ``status`` and ``isolation`` added).

How results are shown is :mod:`grader.render`'s business, never this module's.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    check: str
    assignment: str
    task: str
    visibility: str
    points: float
    max_points: float
    passed: bool
    message: str

    @property
    def hidden(self) -> bool:
        return self.visibility == "hidden"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            str(data["check"]), str(data["assignment"]), str(data["task"]), str(data["visibility"]),
            float(data["points"]), float(data["max_points"]), bool(data["passed"]), str(data["message"]),
        )  # fmt: skip


@dataclass(frozen=True)
class TaskScore:
    """One task of one assignment: its checks (public first, as run) and their totals."""

    assignment: str
    task: str
    checks: tuple[CheckResult, ...]

    @property
    def points(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.checks)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def passed(self) -> bool:
        return not self.failed


def task_scores(checks: Iterable[CheckResult]) -> list[TaskScore]:
    """Group ``checks`` by (assignment, task), in the order tasks first appear."""
    grouped: dict[tuple[str, str], list[CheckResult]] = {}
    for check in checks:
        grouped.setdefault((check.assignment, check.task), []).append(check)
    return [TaskScore(assignment, task, tuple(rows)) for (assignment, task), rows in grouped.items()]


@dataclass(frozen=True)
class WrittenAnswer:
    """A written answer (a markdown grade cell): the grader's score (None: not graded yet) and comment."""

    grade_id: str
    points: float | None
    max_points: float
    comment: str = ""


def manual_total(answers: Sequence[WrittenAnswer]) -> float | None:
    """The sum of the manual grades given so far; None when none is given."""
    given = [a.points for a in answers if a.points is not None]
    return sum(given) if given else None


class Status(enum.StrEnum):
    GRADED = "graded"  #: the checks ran on the submission's task files
    EMPTY = "empty"  #: nothing to run: no task files (every check scores 0)
    CRASHED = "crashed"  #: the grader itself failed on this upload: retried on the next run


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    status: Status
    checks: list[CheckResult]
    problems: list[str] = field(default_factory=list)
    #: How the student's code was isolated (e.g. "bubblewrap", "rlimits only").
    isolation: str = ""
    #: The graded upload's name, and its :func:`~grader.autograde.intake.submission_digest`
    #: (what grading read from it; the batch skips an upload whose digest is unchanged).
    upload: str = ""
    upload_sha256: str = ""
    #: When it was submitted, in nbgrader's ``timestamp.txt`` format.
    timestamp: str | None = None
    seconds: float = 0.0

    @property
    def tasks(self) -> list[TaskScore]:
        return task_scores(self.checks)

    @property
    def task_points(self) -> dict[str, float]:
        """{task: points earned}: what each task's grade cell gets."""
        return {t.task: t.points for t in self.tasks}

    @property
    def score(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        """The stored form (``results/<student>.json``)."""
        return {
            "student": self.student,
            "assignment": self.assignment,
            "status": self.status.value,
            "isolation": self.isolation,
            "problems": list(self.problems),
            "checks": [c.as_dict() for c in self.checks],
            "tasks": self.task_points,
            "score": self.score,
            "max_score": self.max_score,
            "upload": self.upload,
            "upload_sha256": self.upload_sha256,
            "timestamp": self.timestamp,
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SubmissionResult:
        """Read a stored result; one written before ``status`` existed counts as graded."""
        return cls(
            student=str(data["student"]),
            assignment=str(data["assignment"]),
            status=Status(data.get("status", Status.GRADED.value)),
            checks=[CheckResult.from_json(c) for c in data.get("checks", [])],
            problems=[str(p) for p in data.get("problems", [])],
            isolation=str(data.get("isolation", "")),
            upload=str(data.get("upload", "")),
            upload_sha256=str(data.get("upload_sha256", "")),
            timestamp=data.get("timestamp") if isinstance(data.get("timestamp"), str) else None,
            seconds=float(data.get("seconds", 0.0)),
        )
