"""Red-team suite: every attack in ``tests/attacks/catalog.py`` is graded by the real batch grader
(bubblewrap required, two workers) and must

* score exactly what its honest part earns (0 for a pure attack),
* leak nothing: no canary (grader environment, host file, another student's upload), no
  solution text, no hidden check source, no hidden check input or message in what students see,
* leave no process behind and create no file outside its sandbox,
* not stop the batch: every student is graded and recorded.

Two batches share one worker pool: checks only (most attacks), then with notebook execution.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing.util
import os
import re
import secrets
import select
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader import paths, render
from grader.autograde.batch import BatchOptions, autograde, local_pool
from grader.autograde.nbgrader_hooks import StudentFeedback
from grader.checks import registry
from grader.checks.engine import CheckRunner, submission_lib
from grader.checks.reference import ReferenceStore, load_reference
from grader.checks.tasks import TASKS
from grader.release.stubs import find_regions
from grader.sandbox import child, host, launch
from grader.sandbox.launch import Limits, SandboxPolicy
from grader.sandbox.session import Session
from tests.attacks import build, round2_surface
from tests.attacks.build import ASSIGNMENT, Attack
from tests.attacks.catalog import ATTACKS, MIXED_HONEST
from tests.formgrade_render import formgrade_html, live_markup

pytestmark = [
    pytest.mark.skipif(
        launch.bwrap_path() is None or os.geteuid() != 0,
        reason="the red-team suite needs bubblewrap and root (the sandbox switches to a private uid)",
    ),
    # One xdist worker runs the whole module: the graded batch is a module fixture.
    pytest.mark.xdist_group("redteam"),
]

#: An honest student graded in the same batch; attacks try to read its upload.
DECOY = Attack("decoy_other_student", "an honest classmate", honest=MIXED_HONEST, upload="folder")
DECOY_CANARY = "REDTEAM-DECOY-CANARY-" + secrets.token_hex(8)
#: Per-call budget of the checks-only batch: the import-time infinite loop costs this, the
#: slowest honest submission needs a fraction of it.
CHECK_BUDGET = 30.0
NOTEBOOK_TIMEOUT = 60.0
#: Smaller than production (6 GiB) so the memory bomb stays cheap on a CI machine.
CHECK_LIMITS = Limits(address_space_bytes=2 * 1024**3)
NOTEBOOK_LIMITS = Limits(address_space_bytes=3 * 1024**3)
STATIC_ESCAPES = [
    Path("/tmp/redteam-zip-escape"),
    Path("/tmp/redteam-zip-escape-absolute"),
    Path("/tmp/redteam-zip-escape-nested"),
    Path("/tmp/redteam-zip-escape.ipynb"),
    Path("/tmp/redteam-escaped.txt"),
    paths.REPO / "REDTEAM-ESCAPED.txt",
    paths.REPO / "grader" / "reference" / "REDTEAM-ESCAPED.npz",
]


# --------------------------------------------------------------------------------------------
# Host-side listeners: any connection from a sandbox is an escape
# --------------------------------------------------------------------------------------------


class Listeners:
    """A TCP listener on every host address and an abstract unix socket, recording connections."""

    def __init__(self) -> None:
        self.tcp = socket.create_server(("0.0.0.0", 0))
        self.port = self.tcp.getsockname()[1]
        self.abstract_name = "redteam-" + secrets.token_hex(6)
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.abstract_name)
        self.unix.listen()
        self.connections: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            readable, _, _ = select.select([self.tcp, self.unix], [], [], 0.2)
            for server in readable:
                conn, address = server.accept()
                self.connections.append(f"{server.family.name} {address!r}")
                conn.close()

    def hosts(self) -> list[str]:
        found = {"127.0.0.1"}
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))
            found.add(probe.getsockname()[0])
        return sorted(found)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.tcp.close()
        self.unix.close()


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, str]]:
    """{pid: (real uid, command line)} of every process on the host."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
            cmdline = (
                Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
        except OSError:
            continue
        uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
        found[int(entry)] = (uid, cmdline)
    return found


def leftover_processes(uids: set[int], marker: str, wait: float = 10.0) -> list[str]:
    """Processes running as a sandbox uid of our workers, or whose command line names our
    private temporary folder (bubblewrap itself runs as root), after up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        left = [
            f"{pid} uid={uid} {cmd[:200]}"
            for pid, (uid, cmd) in _processes().items()
            if pid != os.getpid() and (uid in uids or marker in cmd)
        ]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def _peak_rss(pid: int) -> int:
    """Peak resident memory of a process in bytes (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


# --------------------------------------------------------------------------------------------
# What must never appear in outputs
# --------------------------------------------------------------------------------------------


def _long_lines(text: str, minimum: int) -> set[str]:
    return {line.strip() for line in text.splitlines() if len(line.strip()) >= minimum}


def solution_sentinels(attacks: list[Attack]) -> set[str]:
    """Lines of reference code that no submission contains (honest parts excluded), and of the
    solution notebook's answers."""
    used = {task for a in attacks for task in a.honest if task not in a.tasks}
    public_text = "".join(p.read_text() for p in (paths.GRADER / "checks" / "public").glob("*.py"))
    common = public_text + "".join((paths.COURSE_LIB / f"{m}.py").read_text() for m in paths.TASK_MODULES)
    common += (Path(build.__file__).parent / "payloads.py").read_text()
    sentinels: set[str] = set()
    for module in paths.TASK_MODULES:
        lines = (paths.SOLUTION_LIB / f"{module}.py").read_text().splitlines()
        for region in find_regions("\n".join(lines)):
            if region.task not in used:
                sentinels |= _long_lines("\n".join(lines[region.begin : region.end - 1]), 30)
    for notebook in (paths.SOLUTIONS / ASSIGNMENT).glob("*.ipynb"):
        for cell in json.loads(notebook.read_text())["cells"]:
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            for begin, end in (
                ("### BEGIN SOLUTION", "### END SOLUTION"),
                ("BEGIN MARK SCHEME", "END MARK SCHEME"),
            ):
                for part in source.split(begin)[1:]:
                    sentinels |= _long_lines(part.split(end)[0], 30)
    return {s for s in sentinels if s not in common and "BEGIN" not in s and "END" not in s}


def hidden_check_sentinels() -> set[str]:
    """Lines of the hidden checks' source that the public checks do not share."""
    public_text = "".join(p.read_text() for p in (paths.GRADER / "checks" / "public").glob("*.py"))
    lines: set[str] = set()
    for hidden in (paths.GRADER / "checks" / "hidden").glob("*.py"):
        lines |= _long_lines(hidden.read_text(), 40)
    return {line for line in lines if line not in public_text}


def hidden_input_sentinels(task: str) -> set[str]:
    """float.hex() of every element the hidden checks of ``task`` send to the student's code
    (recorded on the released stubs), minus values that public checks send as well."""
    recorded: dict[str, list[Any]] = {"hidden": [], "public": []}
    checks = registry.select(registry.load_checks(), [ASSIGNMENT], tasks=[task])
    original = Session.request
    current = {"visibility": "public"}

    def spy(self: Session, message: dict[str, Any], value: Any = None, **kwargs: Any) -> Any:
        if message.get("op") == "call":
            recorded[current["visibility"]].append(value)
        return original(self, message, value, **kwargs)

    def tensors(value: Any) -> Iterator[Any]:
        if hasattr(value, "double"):
            yield value
        elif isinstance(value, (list, tuple)):
            for item in value:
                yield from tensors(item)
        elif isinstance(value, dict):
            for item in value.values():
                yield from tensors(item)

    reference = load_reference()
    Session.request = spy  # type: ignore[method-assign]
    try:
        with (
            submission_lib(paths.REPO) as (lib, _),
            CheckRunner(
                lib, SandboxPolicy(use_bwrap=False), reference, ReferenceStore("grade", reference)
            ) as runner,
        ):
            for check in checks:
                current["visibility"] = check.visibility
                runner.run([check])
    finally:
        Session.request = original  # type: ignore[method-assign]

    def hexes(values: list[Any]) -> set[str]:
        return {float(x).hex() for t in tensors(values) for x in t.double().reshape(-1)[:50].tolist()}

    return hexes(recorded["hidden"]) - hexes(recorded["public"])


STUDENT_FACING = ("exports/feedback", "exports/gradescope", "exports/grades.csv", "summary.json")
#: autograded/ is the graders' view (formgrader shows every check's message, hidden ones included);
#: students get it only through nbgrader's generate_feedback, as :func:`feedback_views` renders it.
INSTRUCTOR_ONLY = ("results", "autograded")


def feedback_views(out: Path) -> dict[Path, str]:
    """Each autograded notebook as nbgrader's generate_feedback hands it to its student (our
    StudentFeedback step: check cells in the students' view)."""
    views = {}
    for path in sorted((out / "autograded").rglob("*.ipynb")):
        resources = {
            "nbgrader": {"student": path.parts[-3], "assignment": path.parts[-2]},
            "metadata": {"path": str(path.parent)},
        }
        shown, _ = StudentFeedback().preprocess(nbformat.read(path, as_version=4), resources)
        views[path] = nbformat.writes(shown)
    return views


def student_facing(out: Path) -> dict[Path, str]:
    return {**output_files(out, STUDENT_FACING), **feedback_views(out)}


def output_files(out: Path, parts: tuple[str, ...]) -> dict[Path, str]:
    files = {}
    for part in parts:
        root = out / part
        for path in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()):
            files[path] = path.read_text(errors="replace")
    return files


# --------------------------------------------------------------------------------------------
# The graded batch (once per module)
# --------------------------------------------------------------------------------------------


def _earns(attack: Attack, check: registry.Check) -> bool:
    return check.task.name in attack.honest and check.name not in attack.unearned


def _expected(attack: Attack) -> float:
    checks = [c for c in registry.load_checks() if c.assignment == ASSIGNMENT]
    return sum(c.points for c in checks if _earns(attack, c))


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("redteam")
    uploads, out, work = root / "uploads", root / "out", root / "work"
    for folder in (uploads, out, work):
        folder.mkdir()
    canary = "REDTEAM-ENV-CANARY-" + secrets.token_hex(8)
    host_secret = root / "host-secret.txt"
    host_secret.write_text("REDTEAM-HOST-CANARY-" + secrets.token_hex(8))
    for stale in STATIC_ESCAPES:
        stale.unlink(missing_ok=True)
    listeners = Listeners()
    decoy_file = uploads / DECOY.name / "course_lib" / "layers.py"
    existing_targets = [out / "nbgrader_config.py", decoy_file]
    params = {
        "repo": str(paths.REPO),
        "out": str(out),
        "uploads": str(uploads),
        "host_secret": str(host_secret),
        "decoy_file": str(decoy_file),
        "escape_files": [
            *map(str, STATIC_ESCAPES),
            str(out / "REDTEAM-ESCAPED.txt"),
            str(uploads / "REDTEAM-ESCAPED.txt"),
            *map(str, existing_targets),
        ],
        "tcp_port": listeners.port,
        "hosts": listeners.hosts(),
        "abstract_socket": listeners.abstract_name,
    }
    made: dict[str, Path] = {}
    for attack in [DECOY, *ATTACKS]:
        made[attack.name] = build.make_upload(attack, uploads, params)
    decoy_file.write_text(f"# {DECOY_CANARY}\n" + decoy_file.read_text())
    notebook_names = {a.name for a in ATTACKS if a.notebook_batch}
    first = [p for name, p in made.items() if name not in notebook_names]
    second = [p for name, p in made.items() if name in notebook_names]

    saved_tempdir = tempfile.tempdir
    # multiprocessing keeps one temp folder per process (the forkserver's socket): create it in the
    # usual place first, so that it does not land in ``work`` and vanish before its exit finalizer.
    multiprocessing.util.get_temp_dir()
    tempfile.tempdir = str(work)  # the workers' sandboxes live here: bwrap command lines name it
    executor = local_pool(2)
    printed = io.StringIO()  # what the instructor's terminal shows
    try:
        with _environment("SECRET_CANARY", canary), contextlib.redirect_stdout(printed):
            # nbgrader writes its course files while preparing; the config exists from then on.
            results = autograde(
                first,
                BatchOptions(
                    ASSIGNMENT,
                    out,
                    policy=SandboxPolicy(use_bwrap=True, limits=CHECK_LIMITS),
                    execute_notebooks=False,
                    check_budget=CHECK_BUDGET,
                ),
                executor=executor,
            )
            results = autograde(
                second,
                BatchOptions(
                    ASSIGNMENT,
                    out,
                    policy=SandboxPolicy(use_bwrap=True, limits=NOTEBOOK_LIMITS),
                    notebook_timeout=NOTEBOOK_TIMEOUT,
                    check_budget=CHECK_BUDGET,
                ),
                executor=executor,
            )
        worker_pids = set(executor._processes)
        worker_peaks = {pid: _peak_rss(pid) for pid in worker_pids}
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        tempfile.tempdir = saved_tempdir
        listeners.close()
    uids = {launch.sandbox_uid_of(pid) for pid in worker_pids} | {
        host.tenant_uid(pid, n) for pid in worker_pids for n in range(host.UIDS_PER_PROCESS)
    }
    yield {
        "out": out,
        "uploads": made,
        "results": {r.student: r for r in results},
        "leftovers": leftover_processes(uids, str(work)),
        "uids": uids,
        "printed": printed.getvalue(),
        "worker_peaks": worker_peaks,
        "canaries": [canary, host_secret.read_text(), DECOY_CANARY],
        "listeners": listeners.connections,
        "existing_targets": existing_targets,
        "escapes": [Path(p) for p in params["escape_files"] if Path(p) not in existing_targets],
    }
    for stale in STATIC_ESCAPES:
        stale.unlink(missing_ok=True)
    shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


def test_catalog_is_large_and_unique():
    names = [a.name for a in ATTACKS]
    assert len(names) == len(set(names)) and DECOY.name not in names
    assert len(ATTACKS) >= 30
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}", n) for n in names)


def test_batch_graded_every_student(graded):
    expected = {DECOY.name, *(a.name for a in ATTACKS)}
    assert set(graded["results"]) == expected
    summary = json.loads((graded["out"] / "summary.json").read_text())
    assert summary["students"] == len(expected)
    checks = [c for c in registry.load_checks() if c.assignment == ASSIGNMENT]
    for student, result in graded["results"].items():
        assert len(result.checks) == len(checks), student
        assert not any("grading failed" in p for p in result.problems), (student, result.problems)
        assert (graded["out"] / "exports" / "feedback" / student / ASSIGNMENT / "feedback.md").is_file()
        assert (graded["out"] / "exports" / "gradescope" / student / "results.json").is_file()
    rows = (graded["out"] / "exports" / "grades.csv").read_text().splitlines()
    assert len(rows) == len(expected) + 1


def _score_cases() -> list[Any]:
    cases = []
    for attack in [DECOY, *ATTACKS]:
        marks = (
            [pytest.mark.xfail(strict=True, reason=attack.known_weakness)] if attack.known_weakness else []
        )
        cases.append(pytest.param(attack, id=attack.name, marks=marks))
    return cases


@pytest.mark.parametrize("attack", _score_cases())
def test_scores_exactly_its_honest_part(graded, attack):
    result = graded["results"][attack.name]
    expected = _expected(attack)
    earns = {c.name for c in registry.load_checks() if c.assignment == ASSIGNMENT and _earns(attack, c)}
    wrong = [
        f"{c.check} ({c.task}): {'passed' if c.passed else 'failed: ' + c.message[:300]}"
        for c in result.checks
        if c.passed != (c.check in earns)
    ]
    assert result.score == expected, (
        f"{attack.name} ({attack.what}) scored {result.score:g}, its honest part earns {expected:g}. "
        "An attack that scores means the grader (or a check that accepts garbage) is exploitable; "
        "an honest check that fails means the attack hurt grading of other tasks:\n" + "\n".join(wrong)
    )


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.evidence], ids=lambda a: a.name)
def test_payload_really_ran(graded, attack):
    """The probe's own report shows it ran, and what it reports is a failure to escape."""
    out = graded["out"]
    texts = [c.message for c in graded["results"][attack.name].checks]
    for path in (out / "autograded" / attack.name).rglob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            for output in cell.get("outputs", []):
                texts += [str(output.get("text", "")), str(output.get("evalue", ""))]
    for pattern in attack.evidence:
        assert any(re.search(pattern, text) for text in texts), f"no evidence {pattern!r}"


def test_no_canary_anywhere(graded):
    out = graded["out"]
    decoy_copy = out / "submitted" / DECOY.name
    for path in sorted(p for p in out.rglob("*") if p.is_file() and decoy_copy not in p.parents):
        data = path.read_bytes()
        for canary in graded["canaries"]:
            assert canary.encode() not in data, f"{canary} leaked into {path}"


def test_no_solution_or_hidden_check_source_in_outputs(graded):
    solutions = solution_sentinels([DECOY, *ATTACKS])
    hidden = hidden_check_sentinels()
    assert len(solutions) > 20 and len(hidden) > 20
    for path, text in output_files(graded["out"], STUDENT_FACING + INSTRUCTOR_ONLY).items():
        leaked = [s for s in solutions if s in text]
        assert not leaked, f"{path} contains reference solution text: {leaked[:3]}"
    for path, text in student_facing(graded["out"]).items():
        leaked = [s for s in hidden if s in text]
        assert not leaked, f"{path} contains hidden-check source: {leaked[:3]}"


def test_hidden_inputs_and_messages_stay_hidden(graded):
    """The stash attack shows earlier inputs in every message: only public ones may reach students."""
    sentinels = hidden_input_sentinels("Linear.forward")
    assert sentinels, "no hidden inputs recorded"
    facing = student_facing(graded["out"])
    for path, text in facing.items():
        leaked = [s for s in sentinels if s in text]
        assert not leaked, f"hidden check inputs reached {path}: {leaked[:3]}"
    stash = graded["results"]["stash_inputs"]
    public = [c for c in stash.checks if not c.hidden and c.task == "Linear.forward"]
    assert any("0x" in c.message for c in public[1:]), "the stash attack did not show earlier inputs"
    for student, result in graded["results"].items():
        mine = {p: t for p, t in facing.items() if f"/{student}/" in str(p)}
        public_messages = {c.message for c in result.checks if not c.hidden}
        for check in result.checks:
            if check.hidden and len(check.message) >= 30:
                if any(check.message in m for m in public_messages):
                    continue  # the same words as a public check (e.g. "the process exited ...")
                for path, text in mine.items():
                    assert check.message not in text, f"hidden message of {check.check} in {path}"


def test_no_process_left_behind(graded):
    assert not graded["leftovers"], "processes outlived the batch:\n" + "\n".join(graded["leftovers"])


def test_nothing_written_outside_the_sandbox(graded):
    for path in graded["escapes"]:
        assert not path.exists(), f"an attack created {path}"
    for path in graded["existing_targets"]:
        assert "tampered" not in path.read_text(), f"an attack modified {path}"
    runner_files = "".join(p.read_text() for p in launch.RUNNER_DIR.rglob("*.py"))
    assert "# tampered" not in runner_files
    strays = [p for p in graded["out"].rglob("*") if "redteam-backslash" in p.name or "ESCAPED" in p.name]
    assert not strays
    unprintable = [p for p in graded["out"].rglob("*") if not p.name.isprintable()]
    assert not unprintable, "file names with control characters reached the grading folder"


def test_hung_notebook_was_stopped_from_outside(graded):
    problems = graded["results"]["nb_flood_and_hang"].problems
    assert any(f"timed out after {NOTEBOOK_TIMEOUT:g} s" in p for p in problems), problems


def test_no_network_connection_reached_the_host(graded):
    assert graded["listeners"] == []


def test_feedback_cannot_be_forged(graded):
    result = graded["results"]["fake_results"]
    folder = graded["out"] / "exports" / "feedback" / "fake_results" / ASSIGNMENT
    markdown = (folder / "feedback.md").read_text().splitlines()
    passed = {c.check for c in result.checks if c.passed}
    pass_lines = [line for line in markdown if line.startswith("- PASS")]
    assert len(pass_lines) == len(passed), pass_lines
    assert sum(line.startswith("**Autograded score") for line in markdown) == 1
    tasks = {c.task for c in result.checks}
    assert all(
        line[3:].split(":")[0] in tasks
        for line in markdown
        if line.startswith("## ") and "Problems" not in line and "Written answers" not in line
    )
    html = (folder / "feedback.html").read_text()
    assert "<script" not in html and "<img" not in html
    gradescope = json.loads(
        (graded["out"] / "exports" / "gradescope" / "fake_results" / "results.json").read_text()
    )
    assert gradescope["score"] == result.score


#: Live markup only: a real tag (an unescaped "<") that runs the attacks' alert(...). Escaped text
#: such as "&lt;script&gt;alert(...)" is what sanitising leaves behind and is harmless.
_SCRIPT = re.compile(
    r"<script[^<>]*>\s*alert\(|<[a-z][^<>]*\son[a-z]+\s*=\s*[\"']?\s*alert\(|"
    r"<[a-z][^<>]*\s(href|src)\s*=\s*[\"']?\s*javascript:",
    re.IGNORECASE,
)


def test_notebooks_carry_no_script_to_formgrader(graded):
    """Outputs keep only text, PNG, streams and errors (check cells: the grader's own check list);
    student markdown is inert in the page formgrader itself renders (its ``formgrade`` template
    does not clean markdown cells)."""
    out = graded["out"]
    markers = (*round2_surface.XSS_MARKERS, "alert(")
    for attack in (a for a in ATTACKS if a.notebook_batch):
        for path in (out / "autograded" / attack.name).rglob("*.ipynb"):
            notebook = nbformat.read(path, as_version=4)
            tables = {  # the only HTML: each task's check list, rendered by the grader from its results
                TASKS[task.task].grade_id: [
                    nbformat.v4.new_output(
                        "display_data", data=render.task_output(task, render.Audience.GRADER)
                    )
                ]
                for task in graded["results"][attack.name].tasks
            }
            for cell in notebook["cells"]:
                grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                if cell["cell_type"] == "code" and grade_id in tables:
                    assert cell["outputs"] == tables[grade_id], (path, grade_id)
                    continue
                for output in cell.get("outputs", []):
                    assert output["output_type"] in ("stream", "error", "display_data", "execute_result")
                    assert set(output.get("data", {})) <= {"text/plain", "image/png"}, (path, output)
            page = formgrade_html(nbformat.read(path, as_version=4), out)
            assert not _SCRIPT.search(page), f"{path}: {_SCRIPT.search(page)}"
            assert live_markup(page, markers) == [], path
    shown = "".join(p.read_text() for p in (out / "autograded" / "formgrader_xss").rglob("*.ipynb"))
    assert all(m in shown for m in round2_surface.XSS_MARKERS), "graders must still see what was written"


def test_no_key_outlives_its_tenant(graded):
    """keyring_donor tried to leave its answers in kernel keyrings (keyring_taker then found
    nothing to copy: see its score); after the batch no key of the attack and no key of a
    tenant's uid beyond its two keyrings is left."""
    tagged = [line for line in Path("/proc/keys").read_text().splitlines() if round2_surface.KEY_TAG in line]
    assert not tagged, tagged
    rows = [line.split() for line in Path("/proc/key-users").read_text().splitlines()]
    keys = {int(row[0].rstrip(":")): int(row[2].split("/")[0]) for row in rows}
    owners = [uid for uid in graded["uids"] if keys.get(uid, 0) > child.KEYRINGS_OF_A_UID]
    assert not owners, f"uids of the batch still own keys: {owners[:5]}"


#: What a terminal or a spreadsheet acts on: C0/C1 controls but newline, DEL, bidi overrides.
_UNSAFE_CHARS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_student_strings_reach_people_neutralised(graded):
    """terminal_escapes put escapes in an exception and in the notebook runner's last stderr
    line: neither reaches the terminal, the reports or the CSV raw; Markdown feedback escapes markup."""
    out = graded["out"]
    problems = graded["results"]["terminal_escapes"].problems
    assert any("PWNED-STDERR" in p for p in problems), problems
    assert not _UNSAFE_CHARS.search(graded["printed"]), repr(_UNSAFE_CHARS.search(graded["printed"]))
    assert "PWNED-STDERR" in graded["printed"]
    for path, text in output_files(out, ("exports", "summary.json")).items():
        decoded = json.dumps(json.loads(text), ensure_ascii=False) if path.suffix == ".json" else text
        assert not _UNSAFE_CHARS.search(decoded), f"{path}: {_UNSAFE_CHARS.search(decoded)!r}"
    markdown = (out / "exports" / "feedback" / "terminal_escapes" / ASSIGNMENT / "feedback.md").read_text()
    assert "PWNED-TITLE" in markdown
    assert not re.search(r"(?<!\\)<img|(?<!\\)\]\(javascript:", markdown), "live markup in feedback.md"
    assert not any(line.startswith(("- PASS forged", "# Score")) for line in markdown.splitlines())


def test_gradebook_holds_the_same_scores(graded):
    """nbgrader's gradebook (what formgrader shows) agrees with the results, and tampered
    notebooks added no grade cells or points."""
    from nbgrader.api import Gradebook

    checks = [c for c in registry.load_checks() if c.assignment == ASSIGNMENT]
    possible = sum(c.points for c in checks)
    with Gradebook(f"sqlite:///{graded['out'] / 'gradebook.db'}") as gradebook:
        assignment = gradebook.find_assignment(ASSIGNMENT)
        auto_cells = {g.name: g.max_score for nb in assignment.notebooks for g in nb.grade_cells}
        for student, result in graded["results"].items():
            submission = gradebook.find_submission(ASSIGNMENT, student)
            auto = sum(g.auto_score or 0 for nb in submission.notebooks for g in nb.grades)
            assert auto == result.score, student
    assert sum(v for k, v in auto_cells.items() if not k.startswith("q_")) == possible
    assert "bonus" not in auto_cells


def test_grader_workers_stayed_small(graded):
    """Student-sized requests (frames, callbacks into the reference) cannot balloon the grader:
    the reference amplification attack alone would take it past 4 GB uncapped, the decode alias
    bomb to 3.4 GB (callbacks now run in a process of their own, capped at +2 GiB)."""
    peaks = {pid: f"{peak / 2**30:.2f} GiB" for pid, peak in graded["worker_peaks"].items()}
    print(f"worker peak memory: {peaks}")
    assert graded["worker_peaks"], "no grader worker was measured"
    assert all(peak < 3 * 2**30 for peak in graded["worker_peaks"].values()), peaks
