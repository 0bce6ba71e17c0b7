"""``python -m grader submit ASSIGNMENT``: the student's upload, validated before it is written.

Run in the assignment's folder, in the folder holding it, or at the root of the repository or
student bundle (:func:`grader.student.workspace.locate`). The zip mirrors the assignment folder
(``course_lib/<task>.py``, ``<notebook>.ipynb``) and carries ``manifest.json`` with the
assignment, a timestamp and each file's SHA-256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import nbformat

from grader import paths
from grader.autograde.intake import MANIFEST, MAX_FILE_BYTES, MAX_TOTAL_BYTES
from grader.student.workspace import locate


def submission_files(assignment: str, base: Path | None = None) -> dict[str, Path]:
    """Zip entry name -> file on disk: the task modules and the assignment's notebooks."""
    work = locate(assignment, base)
    files = {f"course_lib/{module}.py": work.task_dir / f"{module}.py" for module in paths.TASK_MODULES}
    files.update({notebook.name: notebook for notebook in work.notebooks})
    return files


def validate(assignment: str, base: Path | None = None) -> list[str]:
    """Problems that would make the submission ungradable or lose work (empty when fine)."""
    if assignment not in paths.ASSIGNMENT_NAMES:
        return [f"unknown assignment {assignment!r}; choose from {', '.join(paths.ASSIGNMENT_NAMES)}"]
    problems, total = [], 0
    files = submission_files(assignment, base)
    if not any(name.endswith(".ipynb") for name in files):
        problems.append(f"no notebook found in {locate(assignment, base).folder}")
    for relative, path in files.items():
        if not path.is_file():
            problems.append(f"{path} is missing")
            continue
        size = path.stat().st_size
        total += size
        if size > MAX_FILE_BYTES:
            problems.append(
                f"{relative} is {size / 1e6:.1f} MB (at most {MAX_FILE_BYTES / 1e6:.0f} MB): clear large outputs"
            )
        if path.suffix == ".py":
            try:
                compile(path.read_text(encoding="utf-8"), relative, "exec")
            except SyntaxError as error:
                problems.append(f"{relative} line {error.lineno}: {error.msg}")
            except UnicodeDecodeError:
                problems.append(f"{relative} is not UTF-8 text")
        else:
            try:
                nbformat.validate(nbformat.read(path, as_version=4))
            except Exception as error:  # nbformat raises several unrelated types
                problems.append(f"{relative} is not a valid notebook: {str(error).splitlines()[0]}")
    if total > MAX_TOTAL_BYTES:
        problems.append(f"the submission is {total / 1e6:.1f} MB (at most {MAX_TOTAL_BYTES / 1e6:.0f} MB)")
    return problems


#: What nbgrader leaves in a written-answer or code cell the student has not touched.
_UNANSWERED = ("YOUR ANSWER HERE", "YOUR CODE HERE")
#: A notebook whose kernel was busy this long after the file was written may hold unsaved work.
_UNSAVED_SLACK_SECONDS = 5.0


def failing_tasks(assignment: str, base: Path | None = None) -> list[str]:
    """'<task>: <first failing public check's message>' for each task whose public checks fail."""
    from grader.cli.check import grade

    failed: dict[str, str] = {}
    for result in grade(locate(assignment, base).task_dir, [assignment]):
        if not result.passed:
            failed.setdefault(result.task, result.message)
    return [
        message[:200] if message.startswith(f"{task} ") else f"{task}: {message[:200]}"
        for task, message in failed.items()
    ]


def unanswered_cells(notebook_path: Path) -> list[str]:
    """The grade ids of written-answer and code-answer cells left as released (or empty)."""
    notebook = nbformat.read(notebook_path, as_version=4)
    empty = []
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("solution"):
            continue
        text = cell.source.strip()
        if not text or any(marker in text for marker in _UNANSWERED):
            empty.append(str(meta.get("grade_id", "?")))
    return empty


def unsaved_notebooks(paths_on_disk: list[Path]) -> list[Path]:
    """Notebooks open in a local Jupyter server whose kernel ran after the file was last saved."""
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return []
    wanted = {p.resolve(): p for p in paths_on_disk}
    stale = []
    for server in list_running_servers():
        for session in _sessions(server):
            path = (Path(server.get("root_dir", "/")) / session.get("path", "")).resolve()
            activity = _timestamp(session.get("kernel", {}).get("last_activity"))
            if (
                path in wanted
                and activity is not None
                and activity - path.stat().st_mtime > _UNSAVED_SLACK_SECONDS
            ):
                stale.append(wanted[path])
    return stale


def _sessions(server: dict[str, Any]) -> list[dict[str, Any]]:
    import urllib.request

    url = f"{server.get('url', '').rstrip('/')}/api/sessions"
    request = urllib.request.Request(url, headers={"Authorization": f"token {server.get('token', '')}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            sessions = json.load(response)
    except (OSError, ValueError):
        return []  # a server that is gone or answers oddly: nothing to learn from it
    return [s for s in sessions if isinstance(s, dict)] if isinstance(sessions, list) else []


def _timestamp(text: object) -> float | None:
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def warnings(assignment: str, base: Path | None = None) -> list[str]:
    """What the student probably wants to fix before uploading (the upload is still written)."""
    notes = [f"failing public checks: {line}" for line in failing_tasks(assignment, base)]
    notebooks = locate(assignment, base).notebooks
    for notebook in notebooks:
        for grade_id in unanswered_cells(notebook):
            notes.append(f"{notebook.name}: the answer cell {grade_id} is still empty")
    for notebook in unsaved_notebooks(notebooks):
        notes.append(
            f"{notebook.name} ran in Jupyter after it was last saved: save it (Ctrl+S), then submit again"
        )
    return notes


def build(assignment: str, out: Path, base: Path | None = None) -> Path:
    """Write the submission zip to ``out`` (validate first)."""
    files = submission_files(assignment, base)
    manifest = {
        "assignment": assignment,
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in files.items()},
    }
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, path in files.items():
            bundle.write(path, name)
        bundle.writestr(MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return out
