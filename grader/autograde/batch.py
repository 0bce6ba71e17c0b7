"""``python -m grader autograde``: grade many uploads, each isolated, into one gradebook.

Workers (any ``concurrent.futures.Executor``; a local process pool by default) each take one
upload: unpack it, run every check of the assignment against it in the sandbox, and execute its
notebooks in the sandbox. A worker returns plain data only. The main process alone writes the
gradebook and the reports, one student at a time, so an interrupted batch loses nothing: re-run,
it skips every upload whose result is already recorded for the same submission (same
:func:`~grader.autograde.intake.submission_digest`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import json
import multiprocessing
import secrets
import shutil
import tempfile
import time
import traceback
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader import render, untrusted
from grader.autograde import gradebook, reports
from grader.autograde.intake import (
    Submission,
    intake,
    record_id_for,
    submission_digest,
    submitted_files,
)
from grader.autograde.nbgrader_hooks import write_check_tables
from grader.autograde.notebooks import (
    execute,
    inert_markup,
    restore_locked_cells,
    sanitize_outputs,
    trusted_metadata,
)
from grader.autograde.roster import RosterStudent
from grader.checks import callbacks, registry
from grader.checks.engine import CheckRunner, submission_lib
from grader.checks.reference import ReferenceLib, ReferenceStore, load_reference
from grader.results import CheckResult, Status, SubmissionResult
from grader.sandbox import host, isolation
from grader.sandbox.launch import SandboxPolicy
from grader.sandbox.session import Sandbox
from grader.sandbox.spec import NOTEBOOK_PRELOAD

SECRET = "submission_secret.txt"
#: A result's ``isolation`` when no student code ran (no task files), or when unknown (a crash).
NOT_RUN, UNKNOWN = "not-run", "unknown"


@dataclass(frozen=True)
class BatchOptions:
    assignment: str
    out: Path
    policy: SandboxPolicy = field(default_factory=SandboxPolicy)
    execute_notebooks: bool = True
    notebook_timeout: float = 300.0
    force: bool = False
    #: nbgrader gradebook URL (e.g. PostgreSQL); default: sqlite ``gradebook.db`` in ``out``.
    db_url: str | None = None
    #: Wall-clock seconds for all checks of one upload (None: unlimited). A submission that hangs
    #: at import would otherwise cost every check's timeout plus a sandbox restart per check.
    check_budget: float | None = 600.0
    #: The class list (names, emails) for nbgrader's students; see :mod:`grader.autograde.roster`.
    roster: tuple[RosterStudent, ...] = ()
    #: The due date (naive UTC, as nbgrader stores it); None leaves the gradebook's as it is.
    deadline: datetime.datetime | None = None


def upload_digest(upload: Path, assignment: str) -> str:
    """The :func:`~grader.autograde.intake.submission_digest` of ``upload`` taken for ``assignment``."""
    with tempfile.TemporaryDirectory(prefix="grader-digest-") as tmp:
        return submission_digest(intake(upload, assignment, Path(tmp) / "submission"))


def checks_of(assignment: str) -> list[registry.Check]:
    return registry.select(registry.load_checks(include_hidden=True), [assignment])


def summarise(
    submission: Submission,
    results: Sequence[CheckResult],
    status: Status = Status.GRADED,
    isolation: str = "",
) -> SubmissionResult:
    return SubmissionResult(
        submission.student, submission.assignment, status, list(results), list(submission.problems), isolation
    )


def _unrunnable(checks: Sequence[registry.Check], reason: str) -> list[CheckResult]:
    return [
        CheckResult(c.name, c.assignment, c.task.name, c.visibility, 0.0, c.points, False, reason)
        for c in checks
    ]


def _grade_notebooks(
    submission: Submission,
    sandbox: Sandbox | None,
    options: BatchOptions,
    db_url: str,
    names: Sequence[str],
    checks: Sequence[CheckResult],
) -> dict[str, str]:
    """Restore, execute (in ``sandbox``) and store each expected notebook, each task's check cell
    showing the graders every check of ``checks``; returns {notebook: problem}.

    Every student gets every notebook in ``autograded/`` (the released one when theirs is missing
    or unusable), so formgrader lists the whole class. ``sandbox`` None: nothing to execute.
    """
    problems = {}
    release = options.out / "release" / options.assignment
    target = options.out / "autograded" / submission.student / options.assignment
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = submission.root / "assignments" / options.assignment / f"{name}.ipynb"
        problem = ""
        try:
            notebook = nbformat.read(path, as_version=4)
            nbformat.validate(notebook)
        except FileNotFoundError:
            notebook, problem = nbformat.read(release / f"{name}.ipynb", as_version=4), "notebook missing"
        except Exception as error:  # invalid JSON, wrong schema, bad encoding: all reported the same way
            notebook = nbformat.read(release / f"{name}.ipynb", as_version=4)
            problem = f"notebook unreadable ({type(error).__name__}); the released version is shown instead"
        released = nbformat.read(release / f"{name}.ipynb", as_version=4)
        try:
            notebook = restore_locked_cells(
                trusted_metadata(notebook, released), options.assignment, name, db_url
            )
        except Exception as error:  # nbgrader cannot repair it: never let that cost the check results
            notebook = released
            problem = problem or (
                f"nbgrader could not repair the notebook ({type(error).__name__}); the released version is shown instead"
            )
        if sandbox is not None and not problem:
            try:
                notebook, problem = execute(notebook, options.assignment, sandbox, options.notebook_timeout)
            except Exception as error:
                notebook = sanitize_outputs(notebook, notebook)
                problem = f"the notebook could not be executed ({type(error).__name__})"
        else:
            notebook = sanitize_outputs(notebook, notebook)
        notebook = write_check_tables(inert_markup(notebook, released), checks, render.Audience.GRADER)
        (target / f"{name}.ipynb").unlink(missing_ok=True)  # nbgrader autograde leaves it read-only
        nbformat.write(notebook, target / f"{name}.ipynb")
        problems[f"{name}.ipynb"] = problem
    return problems


def grade_upload(
    upload: Path, options: BatchOptions, db_url: str, notebooks: Sequence[str]
) -> SubmissionResult:
    """Everything about one upload, as plain data. Runs in a worker; never raises for bad input."""
    start = time.perf_counter()
    checks = checks_of(options.assignment)
    with tempfile.TemporaryDirectory(prefix="grader-upload-") as tmp:
        submission = intake(upload, options.assignment, Path(tmp) / "submission")
        digest = submission_digest(submission)
        if not submission.files:
            status, isolated = Status.EMPTY, NOT_RUN
            results = _unrunnable(checks, "no task files in the submission")
            notebook_problems = _grade_notebooks(submission, None, options, db_url, notebooks, results)
        else:
            reference, store = grading_reference()
            policy = effective_policy(options)
            with submission_lib(submission.root) as (lib_dir, _):
                with CheckRunner(lib_dir, policy, reference, store, options.check_budget) as runner:
                    status, results, isolated = Status.GRADED, runner.run(checks), runner.isolation.value
                # a sandbox of its own, once the checks' is gone: nothing they left is visible
                with Sandbox(lib_dir, policy) as sandbox:
                    executing = sandbox if options.execute_notebooks else None
                    notebook_problems = _grade_notebooks(
                        submission, executing, options, db_url, notebooks, results
                    )
        secret = write_submitted(
            submission, options.out / "submitted" / submission.student / options.assignment
        )
        autograded = options.out / "autograded" / submission.student / options.assignment
        write_nbgrader_files(autograded, submission.timestamp, secret)
    result = summarise(submission, results, status, isolated)
    result.problems += [f"{name}: {problem}" for name, problem in notebook_problems.items() if problem]
    result.upload, result.upload_sha256 = upload.name, digest
    result.timestamp, result.seconds = submission.timestamp, round(time.perf_counter() - start, 2)
    return result


def effective_policy(options: BatchOptions) -> SandboxPolicy:
    """``options.policy``; a sandbox host that will execute notebooks preloads what kernels import."""
    if not options.execute_notebooks:
        return options.policy
    return dataclasses.replace(options.policy, preload=(*options.policy.preload, *NOTEBOOK_PRELOAD))


def write_submitted(submission: Submission, target: Path) -> str:
    """``submission`` in nbgrader's layout: ``target/<notebook>.ipynb``, the task files beside them
    (``target/course_lib/<module>.py``), ``timestamp.txt`` and ``submission_secret.txt``; nothing
    else of the upload. Returns the secret (kept from an earlier grading of this student)."""
    secret = submission.secret or _secret_of(target)  # nbgrader submit's own, for fetch_feedback
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name, source in submitted_files(submission).items():
        (target / name).parent.mkdir(exist_ok=True)
        shutil.copyfile(source, target / name)
    write_nbgrader_files(target, submission.timestamp, secret)
    return secret


def _secret_of(folder: Path) -> str:
    """The submission's secret: nbgrader's release_feedback names the released feedback by it
    (``nbgrader submit`` makes one per submission; an upload gets one when first graded)."""
    try:
        return (folder / SECRET).read_text().strip() or secrets.token_hex(64)
    except OSError:
        return secrets.token_hex(64)


def write_nbgrader_files(target: Path, timestamp: str | None, secret: str) -> None:
    """nbgrader's ``timestamp.txt`` and ``submission_secret.txt`` in ``target`` (generate_feedback
    copies them from ``autograded/`` to ``feedback/``, where release_feedback reads them)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("timestamp.txt", SECRET):  # nbgrader autograde leaves them read-only
        (target / name).unlink(missing_ok=True)
    if timestamp is not None:
        (target / "timestamp.txt").write_text(timestamp)
    (target / SECRET).write_text(secret)


@functools.cache
def grading_reference() -> tuple[ReferenceLib, ReferenceStore]:
    """This worker's reference implementation and stored expected values, loaded once."""
    reference = load_reference()
    return reference, ReferenceStore("grade", reference)


def local_pool(workers: int, policy: SandboxPolicy | None = None) -> ProcessPoolExecutor:
    """The default executor: ``workers`` fresh interpreters, one torch thread each.

    Workers start from a forkserver because forking a process whose torch/OpenMP threads are
    running can deadlock the child on its first parallel operation (a batch started from a
    notebook or a test process would hang). Each worker warms up as soon as it starts (see
    :func:`_start_worker`), while the main process prepares the gradebook.
    """
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("forkserver"),
        initializer=_start_worker,
        initargs=(policy,),
    )
    for _ in range(workers):  # start every worker now, not at the first upload
        pool.submit(int)
    return pool


def _start_worker(policy: SandboxPolicy | None) -> None:
    """One torch thread per worker (the workers and their children share the machine's cores);
    then load the checks and the reference, and start the sandbox host and the reference's
    callback process, so the first upload finds the worker warm."""
    import torch

    torch.set_num_threads(1)
    if policy is None:
        return
    registry.load_checks(include_hidden=True)
    reference, _ = grading_reference()
    if isolation.resolve(policy) is isolation.Isolation.BWRAP_HOST:
        with contextlib.suppress(host.HostFailed):  # the first upload retries and reports it
            host.shared_host(policy.limits, policy.preload).start()
    if reference is not None:
        with contextlib.suppress(callbacks.WorkerFailed):  # likewise
            callbacks.shared_worker().start()


def _crashed(upload: Path, options: BatchOptions, error: BaseException) -> SubmissionResult:
    """The grader itself failed on an upload: recorded as such (retried by the next run), the batch goes on."""
    submission = Submission(record_id_for(upload), options.assignment, upload)
    detail = "".join(traceback.format_exception_only(type(error), error)).strip()
    submission.problems.append(f"grading failed, please report: {detail}")
    unrun = _unrunnable(checks_of(options.assignment), "not graded (grader error)")
    result = summarise(submission, unrun, Status.CRASHED, UNKNOWN)
    result.upload = upload.name  # no digest: nothing was taken from it (and a crash is retried anyway)
    return result


def _done(upload: Path, options: BatchOptions) -> bool:
    path = options.out / "results" / f"{record_id_for(upload)}.json"
    if options.force or not path.exists():
        return False
    try:
        stored = SubmissionResult.from_json(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError):
        return False
    submitted = options.out / "submitted" / record_id_for(upload) / options.assignment
    return (
        stored.assignment == options.assignment
        and stored.status is not Status.CRASHED  # a grader failure (a worker killed ...) is retried
        and (submitted / "timestamp.txt").is_file()  # graded before nbgrader's layout: regraded once
        and stored.upload_sha256 == upload_digest(upload, options.assignment)
    )


def autograde(
    uploads: Iterable[Path], options: BatchOptions, executor: Executor | None = None, workers: int = 2
) -> list[SubmissionResult]:
    """Grade ``uploads`` into ``options.out``; returns every student's result (old and new)."""
    uploads = sorted(set(uploads))
    isolated = isolation.resolve(options.policy)  # refuses here, before anything, if it must
    pending = [u for u in uploads if not _done(u, options)]
    own_executor = executor is None and bool(pending)
    if own_executor:
        executor = local_pool(workers, effective_policy(options))  # workers warm up during prepare()
    start = time.perf_counter()
    try:
        db_url = gradebook.prepare(options.out, options.assignment, options.db_url)
        notebooks = gradebook.notebook_names(db_url, options.assignment)
        gradebook.add_roster(db_url, options.roster)
        if options.deadline is not None:
            gradebook.set_deadline(db_url, options.assignment, options.deadline)
        futures = {
            executor.submit(grade_upload, upload, options, db_url, notebooks): upload for upload in pending
        }
        for number, future in enumerate(as_completed(futures), start=1):
            upload = futures[future]
            try:
                result = future.result()
            except Exception as error:  # a worker died or the grader broke: record it, continue
                result = _crashed(upload, options, error)
            if record(result, options.out, db_url):
                print(render.progress_line(number, len(pending), result), flush=True)
    finally:
        if own_executor and executor is not None:
            executor.shutdown()
    # every student's exports, the skipped ones too (manual grades given since, an older layout)
    results = export(options.out, options.assignment, db_url)
    summary = {
        "assignment": options.assignment,
        **render.batch_summary(results),
        "graded_now": len(pending),
        "skipped_unchanged": len(uploads) - len(pending),
        "seconds": round(time.perf_counter() - start, 1),
        "isolation": isolated.value,
        "sandboxed": isolated.sandboxed,
    }
    (options.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return results


def record(result: SubmissionResult, out: Path, db_url: str) -> bool:
    """Store ``result`` (results/, exports/) and its task scores in the gradebook; False (and
    nothing stored, so that a re-run retries) when that fails."""
    try:
        reports.write_student(result, out)
        gradebook.record(db_url, result.assignment, result.student, result.task_points, result.timestamp)
    except Exception as error:  # one student's record must not stop the batch
        (out / "results" / f"{untrusted.file_name(result.student)}.json").unlink(missing_ok=True)
        message = f"could not record {result.student}: {type(error).__name__}: {error}"
        print(untrusted.terminal(message), flush=True)
        return False
    return True


def export(out: Path, assignment: str, db_url: str | None = None) -> list[SubmissionResult]:
    """Rewrite every export of ``assignment`` in the grading folder ``out`` from its stored results
    and the gradebook (manual grades and comments given in formgrader since the batch ran
    included); returns the results."""
    results = reports.read_results(out, assignment)
    answers = gradebook.written_answers(db_url or gradebook.db_url(out), assignment)
    for result in results:
        reports.write_student(result, out, answers.get(result.student, ()))
    reports.write_grades_csv(results, answers, reports.grades_csv(out))
    return results
