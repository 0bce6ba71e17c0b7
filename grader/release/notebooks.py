"""Release of the assignment notebooks through nbgrader's own ``generate_assignment``.

The instructor's source notebooks live in ``solutions/<assignment>/``; nbgrader strips solution
regions and hidden tests, locks and checksums the read-only and grade cells, and clears outputs.
It runs in-process on a temporary course directory, so the release can be compared with the
committed ``assignments/`` without touching them.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from grader import paths


class NotebookReleaseError(RuntimeError):
    """nbgrader refused a source notebook; the message carries its log."""


def source_assignments() -> list[str]:
    """Assignments that have a source folder with at least one notebook."""
    return [name for name in paths.ASSIGNMENT_NAMES if any((paths.SOLUTIONS / name).glob("*.ipynb"))]


def released_notebooks() -> dict[Path, str]:
    """(target path -> text) of every released file of every assignment."""
    names = source_assignments()
    if not names:
        return {}
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    paths.interpreter_tools_on_path()
    released: dict[Path, str] = {}
    with tempfile.TemporaryDirectory(prefix="grader-release-") as tmp:
        root = Path(tmp)
        for name in names:
            shutil.copytree(paths.SOLUTIONS / name, root / "source" / name)
        config = Config()
        config.CourseDirectory.root = str(root)
        config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
        config.CourseDirectory.ignore = [".ipynb_checkpoints", "__pycache__", "*.pyc"]
        config.Application.log_level = logging.ERROR
        api = NbGraderAPI(config=config)
        for name in names:
            result = api.generate_assignment(name, force=True, create=True)
            if not result["success"]:
                raise NotebookReleaseError(f"nbgrader could not release {name}:\n{result.get('log', '')}")
            for file in sorted((root / "release" / name).rglob("*")):
                if file.is_file():
                    target = paths.ASSIGNMENTS / name / file.relative_to(root / "release" / name)
                    released[target] = file.read_text(encoding="utf-8")
    return released
