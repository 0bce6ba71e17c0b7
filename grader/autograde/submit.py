"""``python -m grader submit ASSIGNMENT``: the student's upload, validated before it is written.

The zip mirrors the student's tree (``course_lib/<task>.py``, ``assignments/<A>/*.ipynb``) and
carries ``manifest.json`` with the assignment, a timestamp and each file's SHA-256.
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


def submission_files(assignment: str, repo: Path = paths.REPO) -> list[Path]:
    """The files that go into a submission, relative to ``repo``."""
    tasks = [Path("course_lib") / f"{module}.py" for module in paths.TASK_MODULES]
    notebooks = sorted(p.relative_to(repo) for p in (repo / "assignments" / assignment).glob("*.ipynb"))
    return tasks + notebooks


def validate(assignment: str, repo: Path = paths.REPO) -> list[str]:
    """Problems that would make the submission ungradable or lose work (empty when fine)."""
    if assignment not in paths.ASSIGNMENT_NAMES:
        return [f"unknown assignment {assignment!r}; choose from {', '.join(paths.ASSIGNMENT_NAMES)}"]
    problems, total = [], 0
    files = submission_files(assignment, repo)
    if not any(f.suffix == ".ipynb" for f in files):
        problems.append(f"no notebook found in assignments/{assignment}/")
    for relative in files:
        path = repo / relative
        if not path.is_file():
            problems.append(f"{relative} is missing")
            continue
        size = path.stat().st_size
        total += size
        if size > MAX_FILE_BYTES:
            problems.append(
                f"{relative} is {size / 1e6:.1f} MB (at most {MAX_FILE_BYTES / 1e6:.0f} MB): clear large outputs"
            )
        if path.suffix == ".py":
            try:
                compile(path.read_text(encoding="utf-8"), str(relative), "exec")
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


def build(assignment: str, out: Path, repo: Path = paths.REPO) -> Path:
    """Write the submission zip to ``out`` (validate first)."""
    files = submission_files(assignment, repo)
    manifest = {
        "assignment": assignment,
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": {f.as_posix(): hashlib.sha256((repo / f).read_bytes()).hexdigest() for f in files},
    }
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for relative in files:
            bundle.write(repo / relative, relative.as_posix())
        bundle.writestr(MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return out


def main(args: Any) -> int:
    problems = validate(args.assignment)
    if problems:
        print("cannot submit yet:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    out = Path(args.out or f"{args.assignment}-submission.zip")
    build(args.assignment, out)
    print(f"wrote {out} — upload this file; it contains:")
    for relative in submission_files(args.assignment):
        print(f"  {relative}")
    return 0
