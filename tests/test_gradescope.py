"""The Gradescope autograder: the package has Gradescope's layout, and its run_autograder, unpacked
into a folder that mimics /autograder, grades the sample class exactly like ``grader autograde``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import open_python as open_interpreter
import pytest

from grader import paths
from grader.autograde import gradescope
from grader.autograde.batch import BatchOptions, autograde
from grader.demo import ASSIGNMENT, _student_files, _zip, layers_with_relu_bug
from grader.sandbox.launch import SandboxPolicy, bwrap_path

#: Linear.forward is right only if the solutions can be read; it also tries to forge results.json.
PEEKING_LAYERS = """
import importlib.util, json, sys
from pathlib import Path

SOURCE = Path(sys.argv[0]).resolve().parents[2]  # the child runs source/grader/sandbox/child.py


def _solution():
    try:
        spec = importlib.util.spec_from_file_location("peek", SOURCE / "solutions/course_lib/layers.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    except OSError:
        return None


class Linear:
    @staticmethod
    def forward(x, w, b):
        try:
            (SOURCE.parent / "results" / "results.json").write_text(json.dumps({"score": 999}))
        except OSError:
            pass
        solution = _solution()
        if solution is None:
            return x.reshape(x.shape[0], -1) @ w * 0, None
        return solution.Linear.forward(x, w, b)
"""


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gradescope.package(ASSIGNMENT, tmp_path_factory.mktemp("package") / "autograder.zip")


@pytest.fixture
def root(autograder_zip: Path) -> Iterator[Path]:
    """/autograder: source/ unpacked from the zip; every folder on the way open to other uids (the
    unprivileged child must reach grader/sandbox as it would on Gradescope)."""
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        folder = Path(tmp) / "autograder"
        with zipfile.ZipFile(autograder_zip) as bundle:
            bundle.extractall(folder / "source")
        for path in [Path(tmp), folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (folder / "submission").mkdir()
        yield folder


def test_package_layout(autograder_zip: Path, tmp_path: Path):
    with zipfile.ZipFile(autograder_zip) as bundle:
        names = set(bundle.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in bundle.infolist()}
        bundle.extractall(tmp_path)
    assert {"setup.sh", "run_autograder", "pyproject.toml", "scripts/setup.sh"} <= names
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert "solutions/course_lib/layers.py" in names and f"grader/checks/hidden/{ASSIGNMENT}.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    for script in ("setup.sh", "run_autograder"):
        subprocess.run(["bash", "-n", str(tmp_path / script)], check=True)


def _run_autograder(
    root: Path,
    files: dict[str, bytes],
    as_zip: bool,
    path: str = os.environ["PATH"],
    python: str = sys.executable,
) -> dict:
    if as_zip:
        (root / "submission" / "my-upload.zip").write_bytes(_zip(files))
    else:
        for name, data in files.items():
            (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
            (root / "submission" / name).write_bytes(data)
    env = {"PATH": path, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": str(python), "HOME": "/tmp"}
    process = subprocess.run(
        ["/bin/bash", str(root / "source" / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    return json.loads((root / "results" / "results.json").read_text())


@pytest.mark.slow
def test_results_equal_the_batch_graders(root: Path, tmp_path: Path):
    partial = _student_files(paths.COURSE_LIB)
    partial["course_lib/layers.py"] = layers_with_relu_bug().encode()
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "bob.zip").write_bytes(_zip(partial))
    options = BatchOptions(ASSIGNMENT, tmp_path / "out", SandboxPolicy(use_bwrap=bwrap_path() is not None),
                           execute_notebooks=False)  # fmt: skip
    autograde([uploads / "bob.zip"], options)
    expected = json.loads((tmp_path / "out" / "exports" / "gradescope" / "bob" / "results.json").read_text())

    result = _run_autograder(root, partial, as_zip=True)
    assert result["tests"] == expected["tests"]
    assert (result["score"], result["max_score"]) == (expected["score"], expected["max_score"])
    assert 0 < result["score"] < result["max_score"]
    hidden = [t for t in result["tests"] if t["visibility"] == "after_published"]
    assert hidden and all(t["output"] == "" for t in hidden)


@pytest.fixture
def open_python(root: Path) -> Path:
    """An interpreter every user can run, as in Gradescope's container."""
    python = open_interpreter.make(root.parent / "venv")
    if python is None:
        pytest.skip("needs /usr/bin/python3.11 and packages in folders open to other users")
    return python


@pytest.mark.slow
def test_without_bubblewrap_the_child_cannot_read_solutions_or_forge_results(root: Path, open_python: Path):
    """A PATH without bwrap: checks run in an unprivileged child, which finds the reference,
    the hidden checks and the results folder closed."""
    files = _student_files(paths.SOLUTION_LIB)
    files["course_lib/layers.py"] = PEEKING_LAYERS.encode()
    result = _run_autograder(root, files, as_zip=False, path="/nonexistent", python=str(open_python))
    assert "without bubblewrap" in result["output"]
    linear = [t for t in result["tests"] if t["name"].startswith("Linear.forward:")]
    assert linear and all(t["score"] == 0 for t in linear), linear
    assert result["score"] < result["max_score"] and result.get("score") != 999
