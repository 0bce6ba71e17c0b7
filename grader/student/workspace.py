"""Where a student's work on an assignment is, in any of the layouts an assignment lands in.

A released assignment folder carries the whole ``course_lib`` package next to its notebook
(``<folder>/<assignment>.ipynb``, ``<folder>/course_lib/``), so it works wherever it is: fetched by
nbgrader into ``~/<assignment>/``, unzipped from an LMS under any name, or at
``assignments/<assignment>/`` in the repository or the student bundle. The older layout (one
``course_lib/`` at the root beside ``assignments/<assignment>/*.ipynb``) is still understood.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader import paths


@dataclass(frozen=True)
class Workspace:
    """One assignment's folder (its notebooks) and the folder holding its task modules."""

    assignment: str
    folder: Path
    task_dir: Path

    @property
    def notebooks(self) -> list[Path]:
        return sorted(self.folder.glob("*.ipynb"))


def assignment_of_folder(folder: Path) -> str | None:
    """The assignment a folder holds: its name, else the one assignment notebook inside it."""
    if folder.name in paths.ASSIGNMENT_NAMES:
        return folder.name
    found = [name for name in paths.ASSIGNMENT_NAMES if (folder / f"{name}.ipynb").is_file()]
    return found[0] if len(found) == 1 else None


def locate(assignment: str, base: Path | None = None) -> Workspace:
    """``assignment``'s workspace seen from ``base`` (default: the working directory).

    Looked for, in order: ``base`` itself (when it is that assignment's folder), ``base/<assignment>``
    (nbgrader's fetch), ``base/assignments/<assignment>`` (the repository, the student bundle). The
    first with a ``course_lib/`` wins; else the first with a notebook, with the task modules of the
    older layout in ``base/course_lib``. Nothing found: the repository layout under ``base`` (what
    is missing is then reported by whoever reads it).
    """
    base = (base or Path.cwd()).resolve()
    candidates = [base] if assignment_of_folder(base) == assignment else []
    candidates += [base / assignment, base / "assignments" / assignment]
    for folder in candidates:
        if (folder / "course_lib").is_dir():
            return Workspace(assignment, folder, folder / "course_lib")
    for folder in candidates:
        if any(folder.glob("*.ipynb")):
            return Workspace(assignment, folder, base / "course_lib")
    return Workspace(assignment, base / "assignments" / assignment, base / "course_lib")


def from_argument(argument: str, base: Path | None = None) -> Workspace:
    """A workspace named on the command line: an assignment name, or a path to its folder."""
    if argument in paths.ASSIGNMENT_NAMES:
        return locate(argument, base)
    folder = ((base or Path.cwd()) / argument).resolve()
    assignment = assignment_of_folder(folder) if folder.is_dir() else None
    if assignment is None:
        names = ", ".join(paths.ASSIGNMENT_NAMES)
        raise ValueError(f"{argument!r} is neither an assignment ({names}) nor an assignment's folder")
    return locate(assignment, folder)
