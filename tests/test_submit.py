"""``grader submit``: the zip is always written; failing public checks, untouched answer cells and
notebooks run after their last save are listed as warnings (``--strict`` turns them into exit 1)."""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import zipfile
from pathlib import Path

import jupyter_server.serverapp
import pytest

from grader import paths
from grader.cli import submit as submit_command
from grader.student import submit

ASSIGNMENT = "a1_fully_connected"


def _tree(root: Path, task_source: Path, notebook_source: Path) -> Path:
    """A student's repository: task files from ``task_source``, the notebook from ``notebook_source``."""
    (root / "course_lib").mkdir(parents=True)
    for module in paths.TASK_MODULES:
        shutil.copyfile(task_source / f"{module}.py", root / "course_lib" / f"{module}.py")
    (root / "assignments" / ASSIGNMENT).mkdir(parents=True)
    notebook = f"{ASSIGNMENT}.ipynb"
    shutil.copyfile(notebook_source / notebook, root / "assignments" / ASSIGNMENT / notebook)
    return root


def test_untouched_work_is_warned_about(tmp_path: Path):
    root = _tree(tmp_path, paths.COURSE_LIB, paths.ASSIGNMENTS / ASSIGNMENT)
    notes = submit.warnings(ASSIGNMENT, root)
    failing = [n for n in notes if n.startswith("failing public checks")]
    assert len(failing) == 15
    assert "failing public checks: Linear.forward is not implemented yet" in failing[0]
    assert sum("is still empty" in n for n in notes) == 3


def test_finished_work_has_no_warnings(tmp_path: Path):
    root = _tree(tmp_path, paths.SOLUTION_LIB, paths.SOLUTIONS / ASSIGNMENT)
    assert submit.warnings(ASSIGNMENT, root) == []


@pytest.mark.parametrize(("strict", "code"), [(False, 0), (True, 1)])
def test_the_zip_is_written_and_strict_fails_on_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, strict: bool, code: int
):
    monkeypatch.setattr(submit, "warnings", lambda assignment: ["failing public checks: x"])
    out = tmp_path / "upload.zip"
    args = argparse.Namespace(assignment=ASSIGNMENT, out=str(out), strict=strict)
    assert submit_command.main(args) == code
    assert zipfile.is_zipfile(out)
    assert "warning: 1 thing(s)" in capsys.readouterr().out


def test_a_notebook_run_after_its_last_save_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    notebook = tmp_path / "assignments" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    notebook.parent.mkdir(parents=True)
    notebook.write_text("{}")
    saved = dt.datetime.fromtimestamp(notebook.stat().st_mtime, dt.UTC)
    server = {"url": "http://127.0.0.1:1/", "token": "t", "root_dir": str(tmp_path)}
    monkeypatch.setattr(jupyter_server.serverapp, "list_running_servers", lambda: [server])

    def sessions(ran_after: float) -> None:
        ran = (saved + dt.timedelta(seconds=ran_after)).isoformat().replace("+00:00", "Z")
        path = f"assignments/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
        monkeypatch.setattr(submit, "_sessions", lambda s: [{"path": path, "kernel": {"last_activity": ran}}])

    sessions(ran_after=60)
    assert submit.unsaved_notebooks([notebook]) == [notebook]
    sessions(ran_after=-60)
    assert submit.unsaved_notebooks([notebook]) == []
