"""pyproject.toml and environment.yml ask for the same packages with the same version bounds."""

from __future__ import annotations

import re
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
