"""Helpers for tests/test_notebooks.py: find the notebooks, read their nbgrader cells, and execute a
released notebook in a throwaway copy of the students' tree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from grader import paths
from grader.checks.registry import Check
from grader.checks.tasks import TASKS
from grader.release.stubs import find_regions, not_implemented_message

#: The whole source of a check cell: ``check("Linear.forward")``, optionally naming the assignment
#: (``check("Linear.forward", "a1_fully_connected")``).
CHECK_CALL = re.compile(
    r'^\s*check\(\s*"(?P<task>[^"]+)"\s*(?:,\s*(?:assignment\s*=\s*)?"(?P<assignment>[^"]+)"\s*)?\)\s*$'
)
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_TESTS = "BEGIN HIDDEN TESTS"
#: Printed by the cell appended to executed notebooks, followed by JSON.
IMPORTS_MARKER = "NOTEBOOK-TEST-IMPORTS "


def grade_id_for(task: str) -> str:
    """Grade id of a task's check cell (one definition: ``Task.grade_id``)."""
    return TASKS[task].grade_id


def source_notebooks() -> list[tuple[str, Path]]:
    """(assignment, source notebook) for every assignment that has one, in teaching order."""
    return [
        (name, path)
        for name in paths.ASSIGNMENT_NAMES
        for path in sorted((paths.SOLUTIONS / name).glob("*.ipynb"))
    ]


def released_path(assignment: str, source: Path) -> Path:
    return paths.ASSIGNMENTS / assignment / source.name


def read(path: Path) -> Any:
    return nbformat.read(path, as_version=4)


def nbgrader_meta(cell: Any) -> dict[str, Any]:
    return cell.metadata.get("nbgrader", {})


def check_call(cell: Any) -> tuple[str, str | None] | None:
    """(task, assignment or None) of a check cell, else None."""
    match = CHECK_CALL.match(cell.source) if cell.cell_type == "code" else None
    return (match["task"], match["assignment"]) if match else None


def check_task(cell: Any) -> str | None:
    """The task of a check cell, else None."""
    call = check_call(cell)
    return call[0] if call else None


def solution_region_lines(source: str) -> list[str]:
    """Stripped, non-empty lines inside ``### BEGIN SOLUTION`` / ``### END SOLUTION`` regions."""
    lines, inside = [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            inside = True
        elif stripped == END:
            inside = False
        elif inside and stripped:
            lines.append(stripped)
    return lines


# ------------------------------------------------------------------------------- executing


def introduced_in(checks: Iterable[Check]) -> dict[str, str]:
    """Task -> the first assignment (in teaching order) that has checks of it."""
    first: dict[str, str] = {}
    for assignment in paths.ASSIGNMENT_NAMES:
        for item in checks:
            if item.assignment == assignment:
                first.setdefault(item.task.name, assignment)
    return first


def tasks_solved_by(assignment: str, checks: Iterable[Check], *, including: bool) -> set[str]:
    """Tasks a student has finished when starting (``including=False``) or finishing ``assignment``."""
    order = paths.ASSIGNMENT_NAMES.index(assignment)
    return {
        task
        for task, first in introduced_in(checks).items()
        if paths.ASSIGNMENT_NAMES.index(first) < order + including
    }


def stub_source(source: str, module: str, stubbed: set[str]) -> str:
    """``source`` with the regions of the ``stubbed`` tasks replaced as in the release (others kept)."""
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    position = 0
    for region in find_regions(source):
        if region.task not in stubbed:
            continue
        out.extend(lines[position : region.begin - 1])
        marker = lines[region.begin - 1]
        indent = marker[: len(marker) - len(marker.lstrip())]
        out.append(f'{indent}raise NotImplementedError("{not_implemented_message(region.task, module)}")\n')
        position = region.end
    out.extend(lines[position:])
    return "".join(out)


_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")


def student_tree(root: Path, assignment: str, solved: set[str]) -> tuple[Path, Path]:
    """What a student has, under ``root``: (the assignment folder, the installed packages).

    The released folder ``assignments/<assignment>/`` is copied alone to ``root/download/<name>``
    under another name than the assignment's (an LMS download unzipped); its ``course_lib/`` task
    modules hold the reference code of the ``solved`` tasks and the release's stubs of all others.
    ``root/packages`` stands for the student environment's installed packages (put it on
    PYTHONPATH): the public ``grader`` (no hidden checks or references) and the released
    ``course_lib``; solutions/ is absent.
    """
    folder = root / "download" / f"{assignment}-unzipped"
    shutil.copytree(paths.ASSIGNMENTS / assignment, folder, ignore=_IGNORED)
    for module in paths.TASK_MODULES:
        source = (paths.SOLUTION_LIB / f"{module}.py").read_text(encoding="utf-8")
        stubbed = {region.task for region in find_regions(source)} - solved
        (folder / "course_lib" / f"{module}.py").write_text(
            stub_source(source, module, stubbed), encoding="utf-8"
        )
    packages = root / "packages"
    shutil.copytree(paths.COURSE_LIB, packages / "course_lib", ignore=_IGNORED)
    shutil.copytree(paths.GRADER, packages / "grader", ignore=_IGNORED)
    for hidden in (packages / "grader" / "checks" / "hidden", packages / "grader" / "reference" / "hidden"):
        shutil.rmtree(hidden, ignore_errors=True)
    return folder, packages


@dataclass
class Run:
    notebook: Any  # the executed notebook (outputs filled in up to the first error)
    seconds: float
    error: Exception | None  # nbclient's CellExecutionError, if a cell failed


def imports_probe() -> Any:
    """A code cell that reports where the kernel imported course_lib and grader from."""
    return nbformat.v4.new_code_cell(
        "import json as _json, course_lib as _cl, grader as _gr\n"
        f"print({IMPORTS_MARKER!r} + _json.dumps({{'course_lib': _cl.__file__, 'grader': _gr.__file__}}))"
    )


def execute(
    notebook_path: Path, *, cell_timeout: int = 180, probe: bool = False, env: dict[str, str] | None = None
) -> Run:
    """Run the notebook top to bottom with nbclient in its own folder; stop at the first error.

    ``probe`` appends :func:`imports_probe`. ``env`` is added to the kernel's environment.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = read(notebook_path)
    if probe:
        notebook.cells.append(imports_probe())
    client = NotebookClient(
        notebook,
        timeout=cell_timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook_path.parent)}},
    )
    kernel_env = {**os.environ, **(env or {})}
    start = time.perf_counter()
    error: Exception | None = None
    try:
        client.execute(env=kernel_env)
    except CellExecutionError as exc:
        error = exc
    return Run(notebook, time.perf_counter() - start, error)


def error_cell(notebook: Any) -> tuple[int, dict[str, Any]] | None:
    """(index, error output) of the first cell that raised, if any."""
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                return index, output
    return None


def probed_imports(notebook: Any) -> dict[str, str]:
    """The locations printed by :func:`imports_probe` (the last cell)."""
    for output in notebook.cells[-1].get("outputs", []):
        text = output.get("text", "")
        if output.get("output_type") == "stream" and IMPORTS_MARKER in text:
            return json.loads(text.split(IMPORTS_MARKER, 1)[1].strip())
    raise AssertionError("the import probe cell printed nothing")


def png_outputs(notebook: Any) -> list[tuple[int, str]]:
    """(cell index, base64 PNG) of every image the notebook displayed."""
    return [
        (index, output["data"]["image/png"])
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") in ("display_data", "execute_result")
        and "image/png" in output.get("data", {})
    ]
