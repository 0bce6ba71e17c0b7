"""The ``course_lib`` a sandbox imports: assembled in one place, with one set of permissions."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from grader import paths


def assemble_lib(task_dir: Path | None, dest: Path, refresh: bool = False) -> list[str]:
    """Build ``dest/course_lib`` from the pristine given modules plus the task files in ``task_dir``
    (None: the given modules only, e.g. the sandbox host's, whose tenants bring their tasks).

    A task file missing from ``task_dir`` is replaced by the released stub; the missing names are
    returned so reports can say so. ``refresh``: ``dest`` exists; update only the task files.
    Everything is readable by every user (the sandbox's uid is not the grader's).
    """
    package = dest / "course_lib"
    if not refresh:
        package.mkdir(parents=True)
        for module in paths.GIVEN_MODULES:
            shutil.copyfile(paths.COURSE_LIB / f"{module}.py", package / f"{module}.py")
    missing = []
    for module in paths.TASK_MODULES if task_dir is not None else ():
        source = task_dir / f"{module}.py"
        if not source.is_file():
            missing.append(f"{module}.py")
            source = paths.COURSE_LIB / f"{module}.py"
        shutil.copyfile(source, package / f"{module}.py")
    for path in [dest, package, *package.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return missing


def hand_over(lib_dir: Path, dest: Path, uid: int) -> None:
    """Copy ``lib_dir/course_lib`` to ``dest/course_lib``, readable by ``uid`` alone, read-only."""
    shutil.copytree(lib_dir / "course_lib", dest / "course_lib")
    for path in [dest, *dest.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)
        path.chmod(0o500 if path.is_dir() else 0o400)
