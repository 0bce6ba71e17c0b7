"""``python -m grader check``: run checks on a submission and report per task."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader import paths, render
from grader.checks import registry
from grader.checks.context import DEFAULT_SEED
from grader.checks.engine import CheckResult, CheckRunner, submission_lib
from grader.checks.reference import ReferenceLib, ReferenceStore, load_reference
from grader.sandbox.launch import SandboxPolicy
from grader.student.workspace import locate


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
    print(render.terminal_table(results, verbose=args.verbose))
    report = render.check_report(results)
    print(f"total: {report['score']:g}/{report['max_score']:g}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(r.passed for r in results) else 1
