"""pyproject.toml and environment.yml ask for the same packages with the same version bounds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

from grader import paths

#: conda package names that differ from their PyPI names.
CONDA_TO_PYPI = {"pytorch": "torch"}
#: conda-only entries with no PyPI counterpart (the interpreter, pip, the CPU build selector, the project).
CONDA_ONLY = {"python", "pip", "cpuonly", "-e ."}
_REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\-]+)\s*(.*)$")


def _split(requirement: str) -> tuple[str, str]:
    name, spec = _REQUIREMENT.match(requirement.strip()).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "").replace("==", "=")


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((paths.REPO / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_split(r) for r in requirements)


def environment_requirements() -> dict[str, str]:
    text = (paths.REPO / "environment.yml").read_text()
    entries: list[str] = []
    for line in text.split("\ndependencies:", 1)[1].splitlines():
        item = line.strip()
        if item.startswith("- ") and not item.endswith(":"):
            entries.append(item[2:].strip())
    found = {}
    for entry in entries:
        if entry in CONDA_ONLY or entry.split("=")[0].split(">")[0] in CONDA_ONLY:
            continue
        name, spec = _split(entry)
        found[CONDA_TO_PYPI.get(name, name)] = spec
    return found


def test_environment_matches_pyproject():
    assert environment_requirements() == pyproject_requirements()


#: Two tests of one xdist group; each writes down the worker it ran on.
GROUPED_TESTS = """\
import os, time, pytest

pytestmark = pytest.mark.xdist_group("together")


def _record():
    time.sleep(0.5)  # long enough for the other worker to be free for the second test
    with open(os.environ["WORKERS_FILE"], "a") as handle:
        handle.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")


def test_a():
    _record()


def test_b():
    _record()
"""


def test_xdist_groups_tests_that_share_unix_users(tmp_path):
    """The suite runs with ``-n 2 --dist loadgroup``; tests that create the same Unix users (and the
    red-team batch) rely on their ``xdist_group`` putting them on one worker. A pytest/xdist pair
    that ignores the groups runs their fixtures twice, concurrently, deleting each other's users."""
    (tmp_path / "test_grouped.py").write_text(GROUPED_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    workers = tmp_path / "workers.txt"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup", "."],
        cwd=tmp_path, env={**os.environ, "WORKERS_FILE": str(workers)}, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ran_on = workers.read_text().split()
    assert len(ran_on) == 2 and len(set(ran_on)) == 1, f"one group ran on workers {ran_on}"
