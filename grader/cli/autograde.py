"""Command-line front of the batch grader: expand arguments, choose the sandbox, print the table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader import paths, render, untrusted
from grader.autograde import gradebook, reports
from grader.autograde.batch import BatchOptions, autograde
from grader.autograde.roster import RosterError, RosterStudent, read_roster
from grader.results import SubmissionResult
from grader.sandbox import isolation
from grader.sandbox.launch import SandboxPolicy, SandboxUnavailable


def expand(arguments: list[str]) -> list[Path]:
    """Uploads named on the command line; a folder that is not itself a submission holds uploads."""
    uploads = []
    for argument in arguments:
        path = Path(argument)
        is_container = (
            path.is_dir() and not (path / "course_lib").exists() and not (path / "assignments").exists()
        )
        uploads += sorted(path.iterdir()) if is_container else [path]
    return uploads


def print_table(results: Sequence[SubmissionResult], out: Path) -> None:
    print("\n" + render.class_table(results))
    print(
        f"\ngradebook: {out / 'gradebook.db'}  (formgrader: cd {out} && jupyter lab)\n"
        f"grades:    {reports.grades_csv(out)}\nfeedback:  {reports.exports(out) / 'feedback'}/<student>/\n"
        f"gradescope:{reports.exports(out) / 'gradescope'}/<student>/results.json\nsummary:   {out / 'summary.json'}"
    )


def _roster(path: str | None) -> tuple[RosterStudent, ...]:
    """The roster's students (none without ``--roster``); each rejected row is printed."""
    if path is None:
        return ()
    students, rejected = read_roster(Path(path))
    for message in rejected:
        print(untrusted.terminal(message))
    return tuple(students)


def main(args: Any) -> int:
    if args.assignment not in paths.ASSIGNMENT_NAMES:
        print(f"unknown assignment {args.assignment!r}")
        return 2
    policy = SandboxPolicy(allow_unsandboxed=not args.require_sandbox)
    try:
        isolated = isolation.resolve(policy)  # logs a warning when it is local-rlimits
    except SandboxUnavailable:
        print(
            "bubblewrap (bwrap) is not installed or unusable here and --require-sandbox was given: nothing graded."
        )
        return 2
    print(f"isolation: {isolated.value}")
    try:
        roster = _roster(args.roster)
    except RosterError as error:
        print(untrusted.terminal(f"roster refused: {error}"))
        return 2
    try:
        deadline = None if args.deadline is None else gradebook.parse_deadline(args.deadline)
    except ValueError as error:
        print(untrusted.terminal(f"--deadline refused: {error}"))
        return 2
    options = BatchOptions(
        assignment=args.assignment,
        out=Path(args.out),
        policy=policy,
        execute_notebooks=not args.no_execute,
        force=args.force,
        db_url=args.db_url,
        roster=roster,
        deadline=deadline,
    )
    results = autograde(expand(args.submissions), options, workers=args.workers)
    print_table(results, options.out)
    return 0
