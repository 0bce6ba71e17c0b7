"""``python -m grader release [--check]``: regenerate everything students receive.

The release is a pure function from ``solutions/`` to a set of files; writing and checking
compare the same expected bytes, so ``--check`` can never disagree with a fresh release.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grader import paths
from grader.release.stubs import make_stub


def released_stubs() -> Iterator[tuple[Path, str]]:
    """(target path, content) of every generated ``course_lib`` task module."""
    for module in paths.TASK_MODULES:
        source_path = paths.SOLUTION_LIB / f"{module}.py"
        source = source_path.read_text(encoding="utf-8")
        yield paths.COURSE_LIB / f"{module}.py", make_stub(source, module, str(source_path))


def released_course_libs(stubs: dict[Path, str], assignments: list[str]) -> dict[Path, str]:
    """``assignments/<a>/course_lib/``: every assignment folder carries the whole package (given
    modules as they are, task modules as the release's stubs), so it works wherever it lands."""
    files: dict[Path, str] = {}
    for assignment in assignments:
        folder = paths.ASSIGNMENTS / assignment / "course_lib"
        for module in paths.GIVEN_MODULES:
            files[folder / f"{module}.py"] = (paths.COURSE_LIB / f"{module}.py").read_text(encoding="utf-8")
        for path, text in stubs.items():
            files[folder / path.name] = text
    return files


def expected_release() -> dict[Path, str]:
    """Every released file and the text it must have."""
    from grader.release.notebooks import released_notebooks, source_assignments

    files = dict(released_stubs())
    files.update(released_course_libs(files, source_assignments()))
    files.update(released_notebooks())
    return files


def _diff(path: Path, expected: str) -> str:
    actual = path.read_text(encoding="utf-8") if path.exists() else ""
    rel = path.relative_to(paths.REPO)
    lines = difflib.unified_diff(
        actual.splitlines(keepends=True),
        expected.splitlines(keepends=True),
        fromfile=f"{rel} (committed)",
        tofile=f"{rel} (from solutions/)",
    )
    return "".join(lines)


def main(args: Any) -> int:
    return run(check=args.check)


def run(check: bool) -> int:
    """Write the release, or with ``check`` report drift; returns a process exit code."""
    drift = []
    for path, expected in expected_release().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == expected:
            continue
        if check:
            drift.append(path)
            sys.stdout.write(_diff(path, expected) or f"{path}: missing\n")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(expected, encoding="utf-8")
            print(f"wrote {path.relative_to(paths.REPO)}")
    if check and drift:
        names = ", ".join(str(p.relative_to(paths.REPO)) for p in drift)
        print(f"release is out of sync with solutions/: {names}\nrun: python -m grader release")
        return 1
    print("release is in sync with solutions/" if check else "release written")
    return 0
