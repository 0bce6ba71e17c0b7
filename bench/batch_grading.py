"""Batch grading: ``grader autograde`` (sandboxed, 2 workers) vs ``nbgrader autograde`` (serial).

Both grade the same N complete submissions of one assignment (a1 unless --assignment): the
reference task files and the released notebooks. Each student's tuned a1 numbers (the
overfitting hyperparameters and the Solver's learning rate) differ slightly, as in a real class,
so the grader's memo of reference trainings never hits across students: the worst case for us
(``--same-numbers`` gives everyone the same numbers). nbgrader executes every notebook in a kernel
and takes its grades from the test cells; ours runs every check (public and hidden) in the
sandbox: in the warm host (default), in a new sandbox per submission (``warm=False``), and with
the notebooks re-executed in the sandbox as well.

Prints seconds per submission, the rate ratio ours/nbgrader (target >= 6), and the marginal
cost of one more submission once warm: the median over R pairs of (T(M) - T(M/2)) / (M/2) for
warm, checks-only batches (target <= 0.3 s).

    python -m bench.batch_grading [--assignment A] [--students N] [--marginal M] [--repeats R]
                                  [--same-numbers] [--notebooks-only] [--quick]

``--notebooks-only`` measures ours with the notebooks executed before and after nbgrader (the
machine's load changes during a run; each row shows the load average at its end), nothing else.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader import paths
from grader.autograde import gradebook
from grader.autograde.batch import BatchOptions, autograde
from grader.demo import _zip
from grader.sandbox import isolation
from grader.sandbox.launch import SandboxPolicy

NBGRADER = "nbgrader autograde (serial)"
#: Tuned numbers in the reference fc_net.py; each student gets them scaled by 1 + number * 1e-4.
TUNED = ("learning_rate = 0.3\n", "learning_rate = 0.15\n", '{"learning_rate": 0.5}')


def student_fc_net(number: int) -> bytes:
    source = (paths.SOLUTION_LIB / "fc_net.py").read_text()
    for text in TUNED:
        assert source.count(text) == 1, f"the benchmark's tuned number moved: {text!r}"
        value = float(text.split("=")[-1].strip(" \n").split(":")[-1].strip(" }"))
        source = source.replace(text, text.replace(repr(value), repr(value * (1 + number * 1e-4))))
    return source.encode()


def make_uploads(folder: Path, students: int, assignment: str, same_numbers: bool = False) -> list[Path]:
    folder.mkdir(parents=True)
    uploads = []
    released = paths.ASSIGNMENTS / assignment
    for number in range(students):
        files = {
            f"course_lib/{m}.py": (paths.SOLUTION_LIB / f"{m}.py").read_bytes() for m in paths.TASK_MODULES
        }
        files.update(
            {f"assignments/{assignment}/{nb.name}": nb.read_bytes() for nb in released.glob("*.ipynb")}
        )
        if not same_numbers:
            files["course_lib/fc_net.py"] = student_fc_net(number)
        upload = folder / f"student{number:03d}.zip"
        upload.write_bytes(_zip(files))
        uploads.append(upload)
    return uploads


def ours(uploads: list[Path], assignment: str, out: Path, execute: bool, warm: bool = True) -> float:
    policy = SandboxPolicy(allow_unsandboxed=True, warm=warm)
    start = time.perf_counter()
    results = autograde(uploads, BatchOptions(assignment, out, policy, execute_notebooks=execute), workers=2)
    seconds = time.perf_counter() - start
    assert all(r.score == r.max_score for r in results), "a complete submission lost points"
    return seconds


def nbgrader(students: int, assignment: str, root: Path) -> float:
    """nbgrader autograde on the same notebooks; the kernel finds course_lib through PYTHONPATH."""
    gradebook.prepare(root, assignment)
    for number in range(students):
        target = root / "submitted" / f"student{number:03d}" / assignment
        target.mkdir(parents=True)
        for notebook in (paths.ASSIGNMENTS / assignment).glob("*.ipynb"):
            shutil.copyfile(notebook, target / notebook.name)
    lib = root / "lib"
    shutil.copytree(paths.COURSE_LIB, lib / "course_lib")
    for module in paths.TASK_MODULES:
        shutil.copyfile(paths.SOLUTION_LIB / f"{module}.py", lib / "course_lib" / f"{module}.py")
    environment = {**os.environ, "PYTHONPATH": f"{lib}{os.pathsep}{paths.REPO}", "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", assignment, "--force", "--log-level=ERROR"],
        cwd=root, env=environment, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - start


#: The 1-minute load average when each row of the current run ended.
LOADS: dict[str, float] = {}


def measure(seconds: dict[str, float], name: str, run: float) -> None:
    """Record one row's time (call with the finished measurement)."""
    seconds[name] = run
    LOADS[name] = os.getloadavg()[0]


def report(seconds: dict[str, float], args: argparse.Namespace) -> None:
    """Seconds per submission of every row and its rate relative to nbgrader's."""
    baseline = seconds[NBGRADER] / args.students
    numbers = "the same" if args.same_numbers else "distinct"
    print(
        f"{args.students} submissions of {args.assignment} ({numbers} tuned numbers), 2 workers, "
        f"isolation: {isolation.resolve(SandboxPolicy(allow_unsandboxed=True)).value}; load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    for name, total in seconds.items():
        per = total / args.students
        print(
            f"  {name:<50} {per:6.2f} s/submission   rate vs nbgrader: {baseline / per:5.2f}x   "
            f"(load {LOADS.get(name, float('nan')):.1f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assignment", default="a1_fully_connected", choices=paths.ASSIGNMENT_NAMES)
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--marginal", type=int, default=20, help="M for the marginal cost (even)")
    parser.add_argument("--repeats", type=int, default=3, help="pairs of batches for the marginal cost")
    parser.add_argument(
        "--same-numbers", action="store_true", help="every student submits the same tuned numbers"
    )
    parser.add_argument(
        "--notebooks-only", action="store_true", help="only nbgrader and ours with notebooks executed"
    )
    parser.add_argument("--quick", action="store_true", help="smoke mode: 1 student, warm checks only")
    args = parser.parse_args()
    if args.quick:
        args.students, args.marginal, args.repeats = 1, 2, 1
    logging.disable(logging.WARNING)
    assignment = args.assignment
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        root = Path(tmp)
        uploads = make_uploads(
            root / "uploads", max(args.students, args.marginal), assignment, args.same_numbers
        )
        graded = uploads[: args.students]
        seconds: dict[str, float] = {}
        if args.notebooks_only:
            before = ours(graded, assignment, root / "before", execute=True)
            measure(seconds, "ours, checks + sandboxed notebooks (before)", before)
            measure(seconds, NBGRADER, nbgrader(args.students, assignment, root / "nbgrader"))
            after = ours(graded, assignment, root / "after", execute=True)
            measure(seconds, "ours, checks + sandboxed notebooks (after)", after)
            measure(seconds, "ours, checks + sandboxed notebooks (mean)", (before + after) / 2)
            report(seconds, args)
            return
        measure(seconds, NBGRADER, nbgrader(args.students, assignment, root / "nbgrader"))
        measure(
            seconds, "ours, checks only, warm host", ours(graded, assignment, root / "warm", execute=False)
        )
        if not args.quick:
            cold = ours(graded, assignment, root / "cold", execute=False, warm=False)
            measure(seconds, "ours, checks only, sandbox per submission", cold)
            measure(
                seconds,
                "ours, checks + sandboxed notebooks",
                ours(graded, assignment, root / "full", execute=True),
            )
        half = args.marginal // 2
        pairs = []
        for n in range(args.repeats):
            if n == 0 and args.students == half:  # the warm batch above is T(M/2) already
                part = seconds["ours, checks only, warm host"]
            else:
                part = ours(uploads[:half], assignment, root / f"half{n}", execute=False)
            pairs.append((part, ours(uploads[: args.marginal], assignment, root / f"all{n}", execute=False)))
    report(seconds, args)
    marginals = sorted((full - part) / max(args.marginal - half, 1) for part, full in pairs)
    print(
        f"  marginal cost once warm (checks only): median {statistics.median(marginals):.3f} s/submission "
        f"of {len(pairs)} pairs T({args.marginal}) - T({half}) {[round(m, 3) for m in marginals]}; target <= 0.3 s"
    )


if __name__ == "__main__":
    main()
