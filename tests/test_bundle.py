"""The student bundle contains nothing hidden and works on its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grader import paths
from grader.checks import registry
from grader.release.bundle import build
from grader.release.stubs import find_regions


def solution_lines() -> set[str]:
    """Distinctive lines of the solution regions that the released stubs do not already show
    (a docstring may spell out a recipe on purpose, e.g. dropout's mask)."""
    found = set()
    for module in paths.TASK_MODULES:
        source = (paths.SOLUTION_LIB / f"{module}.py").read_text()
        public = (paths.COURSE_LIB / f"{module}.py").read_text()
        lines = source.splitlines()
        for region in find_regions(source):
            for line in lines[region.begin : region.end - 1]:
                text = line.strip()
                if len(text) > 25 and not text.startswith("#") and text not in public:
                    found.add(text)
    return found


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("bundle") / "student")


def _texts(folder: Path):
    for path in folder.rglob("*"):
        if path.is_file():
            yield path, path.read_bytes().decode("utf-8", errors="replace")


def test_bundle_has_no_solutions_or_hidden_checks(bundle: Path):
    assert not (bundle / "solutions").exists()
    assert not (bundle / "grader" / "checks" / "hidden").exists()
    assert not list((bundle / "grader" / "reference").glob("hidden*"))
    secrets = solution_lines()
    hidden_names = {c.name for c in registry.load_checks() if c.visibility == "hidden"}
    assert secrets and hidden_names
    for path, text in _texts(bundle):
        leaked = [line for line in secrets if line in text]
        assert not leaked, f"{path.relative_to(bundle)} contains solution code: {leaked[:3]}"
        named = [name for name in hidden_names if name in text]
        assert not named, f"{path.relative_to(bundle)} names hidden checks: {named[:3]}"


@pytest.mark.slow
def test_bundle_runs_public_checks_on_its_own(bundle: Path):
    """In the bundle, the checks run (public only) and report every task as not implemented."""
    done = subprocess.run(
        [sys.executable, "-m", "grader", "check", "a1_fully_connected", "--json", "report.json"],
        cwd=bundle, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(bundle)},
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not implemented yet" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
