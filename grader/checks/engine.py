"""Run checks against one submission: every public check before any hidden one, one fresh child
session per task and visibility, results per check.

A check passes when its function returns. It fails on :class:`CheckFailure` (wrong output),
on an exception raised by the student's code, when the child dies (the next check starts in a
fresh session), or when the check cannot even use what came back (e.g. a number where a tuple
was expected). An optional per-submission time budget bounds the whole run. Nothing the child
does can stop the loop.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import groupby
from pathlib import Path

from grader.checks.callbacks import Callbacks
from grader.checks.compare import CheckFailure
from grader.checks.context import DEFAULT_SEED, Context
from grader.checks.reference import ReferenceLib, ReferenceStore
from grader.checks.registry import Check
from grader.results import CheckResult
from grader.sandbox.course import assemble_lib
from grader.sandbox.isolation import Isolation
from grader.sandbox.launch import SandboxPolicy
from grader.sandbox.session import ChildDied, Sandbox, Session, StudentError
from grader.sandbox.spec import SessionSetup

_STUDENT_FRAME = re.compile(r'File "[^"]*/(course_lib/\w+\.py)", line (\d+)')
#: Longest message kept per check (messages quote student exceptions and values).
MAX_MESSAGE = 2000


def _locate(traceback: str) -> str:
    frames = _STUDENT_FRAME.findall(traceback)
    return f" (at {frames[-1][0]}:{frames[-1][1]})" if frames else ""


def explain(error: StudentError) -> str:
    """One line for a student's exception; stubs read 'not implemented yet'."""
    if error.type_name == "NotImplementedError":
        return error.message or "not implemented yet"
    return f"your code raised {error}{_locate(error.traceback)}"


def find_task_files(submission: Path) -> Path:
    """The folder holding a submission's task modules: ``DIR/course_lib`` if present, else DIR."""
    nested = submission / "course_lib"
    return nested if nested.is_dir() else submission


@contextmanager
def submission_lib(submission: Path) -> Iterator[tuple[Path, list[str]]]:
    """A temporary directory containing the submission's assembled ``course_lib``."""
    with tempfile.TemporaryDirectory(prefix="grader-lib-") as tmp:
        missing = assemble_lib(find_task_files(submission), Path(tmp))
        yield Path(tmp), missing


def _setup_for(check: Check, reference: ReferenceLib | None, lib: Path | None = None) -> SessionSetup:
    """The stand-ins of a session for ``check``'s task: the reference in place of the earlier
    modules and classes it uses (no cascading point loss), recorders for the classes it builds."""
    proxies: dict[str, list[str]] = {}
    patches: dict[str, list[str]] = {}
    for use in check.task.uses if reference else ():
        module, _, owner = use.partition(".")
        if owner:  # one class of a module the student's task shares
            names = [name for name in reference.callables(module) if name.startswith(f"{owner}.")]
            patches.setdefault(module, []).extend(names)
        else:  # a whole module the task imports
            proxies[module] = reference.callables(module)
    return SessionSetup(proxies, patches, list(check.task.recorders), None if lib is None else str(lib))


def _run_one(
    check: Check, session: Session, store: ReferenceStore, reference: ReferenceLib | None, seed: int
) -> str:
    """Run one check; returns '' on success or the failure message."""
    context = Context(check, session, store, reference, seed)
    try:
        session.seed(seed)
        check.run(context)
    except CheckFailure as failure:
        return str(failure)
    except StudentError as error:
        return explain(error)
    except ChildDied:
        raise
    except Exception as error:  # the check choked on the student's value (unpacking a number ...)
        return f"the result could not be checked ({type(error).__name__}: {error})"
    return ""


class CheckRunner:
    """Runs checks against one assembled course_lib; one sandbox serves every run.

    ``budget``: seconds of wall-clock time for everything this runner runs (one submission).
    Calls are cut off when it runs out and the remaining checks fail unrun, so a submission that
    hangs in every task (at import, say) costs the budget, not every check's timeout plus a
    sandbox restart each.
    """

    def __init__(
        self,
        lib_dir: Path,
        policy: SandboxPolicy,
        reference: ReferenceLib | None,
        store: ReferenceStore,
        budget: float | None = None,
    ) -> None:
        self.sandbox = Sandbox(lib_dir, policy)
        self.reference, self.store, self.budget = reference, store, budget
        #: time.monotonic() after which no call may run, or None.
        self.deadline = None if budget is None else time.monotonic() + budget

    @property
    def isolation(self) -> Isolation:
        """What runs the submission's code (recorded in its result)."""
        return self.sandbox.isolation

    def __enter__(self) -> CheckRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sandbox.close()

    def run(
        self, checks: Sequence[Check], seed: int = DEFAULT_SEED, lib: Path | None = None
    ) -> list[CheckResult]:
        """Run ``checks``: every public check before any hidden one; one fresh session per task
        and visibility (a new one after a death). Results come back in the order of ``checks``.

        The order is what keeps hidden inputs out of feedback: a submission can stash what its
        code is given (sessions share the sandbox's /tmp) and repeat it in a later message, and
        once the first hidden check has started, no public check (the only kind whose messages
        students see) is left to carry it.

        ``lib``: grade the ``course_lib`` in this folder instead of the runner's own, reusing the
        warm child (only without the sandbox, which sees just the runner's folder).
        Each run's calls into the reference share one budget (:mod:`grader.checks.callbacks`).
        """
        if lib is not None and self.isolation.sandboxed:
            raise ValueError("another lib can only be graded without the sandbox")
        if self.reference is not None:  # each run grades a submission: a callback budget of its own
            self.sandbox.reference = Callbacks()
        by_task = _public_first(checks)
        results = []
        for _, group in groupby(by_task, key=lambda c: (c.visibility, c.assignment, c.task.name)):
            session: Session | None = None
            for check in group:
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    if session is not None:
                        session.close()
                        session = None
                    message = f"not run: the submission used up its grading time budget ({self.budget:g} s)"
                    results.append(_result(check, message))
                    continue
                try:
                    if session is None:
                        setup = _setup_for(check, self.reference, lib)
                        session = self.sandbox.session(setup, check.timeout, self.deadline)
                    session.timeout = check.timeout
                    message = _run_one(check, session, self.store, self.reference, seed)
                except ChildDied as died:
                    message, session = f"{died}", None
                except StudentError as error:
                    message, session = explain(error), None
                results.append(_result(check, message))
            if session is not None:
                session.close()
        order = {id(check): number for number, check in enumerate(checks)}
        return [
            result for _, result in sorted(zip(by_task, results, strict=True), key=lambda p: order[id(p[0])])
        ]


def _public_first(checks: Sequence[Check]) -> list[Check]:
    """``checks`` grouped by (visibility, assignment, task) in order of first appearance, every
    public group before every hidden one."""
    first_seen: dict[tuple[str, str], int] = {}
    for check in checks:
        first_seen.setdefault((check.assignment, check.task.name), len(first_seen))
    return sorted(checks, key=lambda c: (c.visibility != "public", first_seen[c.assignment, c.task.name]))


def _result(check: Check, message: str) -> CheckResult:
    """Passed when ``message`` is empty; the message is capped (it quotes the student)."""
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 20] + " [... message cut]"
    passed = not message
    return CheckResult(
        check.name,
        check.assignment,
        check.task.name,
        check.visibility,
        check.points if passed else 0.0,
        check.points,
        passed,
        message,
    )
