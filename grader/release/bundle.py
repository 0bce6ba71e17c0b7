"""``python -m grader bundle --student --out DIR``: the folder students receive.

It holds the released notebooks, ``course_lib`` (given modules and stubs), the public checks with
their stored references, the grader's student-side tools, the README and environment files; it
leaves out ``solutions/``, hidden checks and their references, tests, benchmarks and CI.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from grader import paths

#: Top-level entries copied into the student bundle.
INCLUDED = ("assignments", "course_lib", "grader", "docs", "README.md", "environment.yml", "pyproject.toml")
#: Student scripts (setup only: the demo and the test suite need instructor material).
SCRIPTS = ("setup.sh",)
#: Paths under the repository that never leave it.
EXCLUDED = ("grader/checks/hidden", "grader/reference/hidden", "grader/demo.py", "grader/cli/demo.py")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")


def build(out: Path) -> Path:
    """Write the student bundle to ``out`` (which must not exist) and return it."""
    if out.exists():
        raise FileExistsError(f"{out} exists; choose a new folder")
    out.mkdir(parents=True)
    for name in INCLUDED:
        source = paths.REPO / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=_IGNORED)
        else:
            shutil.copyfile(source, out / name)
    (out / "scripts").mkdir()
    for script in SCRIPTS:
        shutil.copyfile(paths.REPO / "scripts" / script, out / "scripts" / script)
    for excluded in EXCLUDED:
        target = out / excluded
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    return out
