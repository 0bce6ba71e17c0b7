"""``python -m grader check``: run checks on a submission and report per task."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader import paths
from grader.checks import registry
from grader.checks.context import DEFAULT_SEED
from grader.checks.engine import CheckResult, CheckRunner, submission_lib
from grader.checks.reference import ReferenceLib, ReferenceStore, load_reference
from grader.sandbox.launch import SandboxPolicy
from grader.student.workspace import locate

_WIDTH = 112


def grade(
    submission: Path,
    assignments: Sequence[str] = (),
    *,
    hidden: bool = False,
    pattern: str | None = None,
    tasks: Sequence[str] = (),
    policy: SandboxPolicy | None = None,
    store: ReferenceStore | None = None,
    reference: ReferenceLib | None = None,
    seed: int = DEFAULT_SEED,
) -> list[CheckResult]:
    """Run the selected checks on ``submission`` (a folder with task files or ``course_lib/``)."""
    chosen = registry.select(registry.load_checks(hidden), assignments, pattern, tasks)
    reference = reference if reference is not None else load_reference()
    store = store or ReferenceStore("grade", reference)
    policy = policy or SandboxPolicy(use_bwrap=False)
    with (
        submission_lib(submission) as (lib_dir, _missing),
        CheckRunner(lib_dir, policy, reference, store) as runner,
    ):
        return runner.run(chosen, seed)


def summary(results: Sequence[CheckResult]) -> dict[str, Any]:
    """The JSON report: every check, plus the total score."""
    return {
        "checks": [
            {
                key: r.as_dict()[key]
                for key in ("check", "assignment", "task", "points", "max_points", "passed", "message")
            }
            for r in results
        ],
        "score": sum(r.points for r in results),
        "max_score": sum(r.max_points for r in results),
    }


def _clip(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def table(results: Sequence[CheckResult], verbose: bool = False) -> str:
    """A table per assignment: one row per task, its points and the first failure reason.

    A task whose checks all fail with the same message (typically "not implemented yet") gets
    that message once; with ``verbose`` every failing check is listed under its task.
    """
    by_assignment: dict[str, dict[str, list[CheckResult]]] = defaultdict(lambda: defaultdict(list))
    for result in results:
        by_assignment[result.assignment][result.task].append(result)
    lines = []
    for assignment, tasks in by_assignment.items():
        earned = sum(r.points for rs in tasks.values() for r in rs)
        possible = sum(r.max_points for rs in tasks.values() for r in rs)
        lines.append(f"{assignment}  {earned:g}/{possible:g} points")
        lines.append("-" * _WIDTH)
        for task, rows in tasks.items():
            failed = [r for r in rows if not r.passed]
            points = f"{sum(r.points for r in rows):g}/{sum(r.max_points for r in rows):g}"
            status = "PASS" if not failed else "FAIL"
            reasons = {r.message for r in failed}
            note = ""
            if failed:
                note = failed[0].message if len(reasons) == 1 else f"{len(failed)}/{len(rows)} checks fail"
            lines.append(f"  {status}  {task:<32} {points:>7}  {_clip(note, _WIDTH - 48)}")
            if failed and (verbose or len(reasons) > 1):
                for r in failed:
                    lines.append(f"        - {r.check}: {_clip(r.message, 400)}")
        lines.append("")
    return "\n".join(lines)


def _submission(argument: str | None, assignments: Sequence[str]) -> Path:
    """``--submission`` as given, else the one named assignment's task files (its folder's
    ``course_lib``, found from here), else this folder."""
    if argument is not None:
        return Path(argument)
    if len(assignments) == 1 and assignments[0] in paths.ASSIGNMENT_NAMES:
        return locate(assignments[0]).task_dir
    return Path(".")


def main(args: Any) -> int:
    results = grade(
        _submission(args.submission, args.assignments),
        args.assignments,
        hidden=args.hidden,
        pattern=args.k,
        seed=args.seed,
    )
    if not results:
        print("no checks selected")
        return 2
    print(table(results, verbose=args.verbose))
    report = summary(results)
    print(f"total: {report['score']:g}/{report['max_score']:g}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(r.passed for r in results) else 1
