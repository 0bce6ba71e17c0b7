"""Batch grading: ``grader autograde`` (sandboxed, 2 workers) vs ``nbgrader autograde`` (serial).

Both grade the same N copies of a complete a1 submission (the reference task files and the
released notebook). nbgrader executes every notebook in a kernel and takes its grades from the
test cells; ours runs every check (public and hidden) in the sandbox, and is measured twice:
with the notebooks re-executed in the sandbox (the default) and with ``--no-execute``.
Prints seconds per submission and the rate ratio ours/nbgrader (target >= 6).

    python -m bench.batch_grading [--students N] [--quick]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader import paths
from grader.autograde import gradebook
from grader.autograde.batch import BatchOptions, autograde
from grader.demo import ASSIGNMENT, _student_files, _zip
from grader.runner.launch import SandboxPolicy, bwrap_path


def make_uploads(folder: Path, students: int) -> list[Path]:
    files = _student_files(paths.SOLUTION_LIB)
    folder.mkdir(parents=True)
    uploads = []
    for number in range(students):
        upload = folder / f"student{number:03d}.zip"
        upload.write_bytes(_zip(files))
        uploads.append(upload)
    return uploads


def ours(uploads: list[Path], out: Path, execute: bool) -> float:
    policy = SandboxPolicy(use_bwrap=bwrap_path() is not None)
    start = time.perf_counter()
    autograde(uploads, BatchOptions(ASSIGNMENT, out, policy, execute_notebooks=execute), workers=2)
    return time.perf_counter() - start


def nbgrader(students: int, root: Path) -> float:
    """nbgrader autograde on the same notebooks; the kernel finds course_lib through PYTHONPATH."""
    gradebook.prepare(root, ASSIGNMENT)
    for number in range(students):
        target = root / "submitted" / f"student{number:03d}" / ASSIGNMENT
        target.mkdir(parents=True)
        for notebook in (paths.ASSIGNMENTS / ASSIGNMENT).glob("*.ipynb"):
            shutil.copyfile(notebook, target / notebook.name)
    lib = root / "lib"
    shutil.copytree(paths.COURSE_LIB, lib / "course_lib")
    for module in paths.TASK_MODULES:
        shutil.copyfile(paths.SOLUTION_LIB / f"{module}.py", lib / "course_lib" / f"{module}.py")
    environment = {**os.environ, "PYTHONPATH": f"{lib}{os.pathsep}{paths.REPO}", "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force", "--log-level=ERROR"],
        cwd=root, env=environment, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument(
        "--quick", action="store_true", help="smoke mode: 1 student, no notebook re-execution"
    )
    args = parser.parse_args()
    if args.quick:
        args.students = 1
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        root = Path(tmp)
        uploads = make_uploads(root / "uploads", args.students)
        seconds = {
            "nbgrader autograde (serial)": nbgrader(args.students, root / "nbgrader"),
            "ours, checks only (--no-execute)": ours(uploads, root / "ours-checks", execute=False),
        }
        if not args.quick:
            seconds["ours, checks + sandboxed notebooks"] = ours(uploads, root / "ours-full", execute=True)
    baseline = seconds["nbgrader autograde (serial)"] / args.students
    print(
        f"{args.students} submissions of {ASSIGNMENT}, 2 cores, sandbox: {'bubblewrap' if bwrap_path() else 'none'}"
    )
    for name, total in seconds.items():
        per = total / args.students
        print(f"  {name:<36} {per:6.2f} s/submission   rate vs nbgrader: {baseline / per:5.2f}x")


if __name__ == "__main__":
    main()
