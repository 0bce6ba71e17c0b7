"""Isolation is decided once and never silently weaker than asked; the typed launch descriptions
round-trip; notebooks run in a kernel forked from the sandbox, apart from the checks' leftovers."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from grader import paths
from grader.autograde.notebooks import execute
from grader.sandbox import isolation
from grader.sandbox.course import assemble_lib
from grader.sandbox.isolation import Isolation, resolve
from grader.sandbox.launch import SandboxPolicy, SandboxUnavailable
from grader.sandbox.session import Sandbox
from grader.sandbox.spec import Limits, SessionSetup, ZygoteSpec

#: The sandbox these tests can have here (the suite also runs where bubblewrap cannot).
POLICY = SandboxPolicy(allow_unsandboxed=True)

STASH = '''
import os, tempfile


def stash(text):
    """What a hidden check's input would be, left where a later process of the submission looks."""
    for folder in {tempfile.gettempdir(), os.getcwd(), "/tmp"}:
        try:
            with open(os.path.join(folder, "stash.txt"), "w") as handle:
                handle.write(text)
        except OSError:
            pass
    return True
'''


def test_without_bubblewrap_the_library_refuses_unless_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr(isolation, "bwrap_works", lambda: False)
    with pytest.raises(SandboxUnavailable):
        resolve(SandboxPolicy())
    with pytest.raises(SandboxUnavailable):
        Sandbox(tmp_path, SandboxPolicy(warm=False))
    assert resolve(SandboxPolicy(allow_unsandboxed=True)) is Isolation.LOCAL
    assert resolve(SandboxPolicy(use_bwrap=False)) is Isolation.LOCAL
    assert not Isolation.LOCAL.sandboxed and Isolation.LOCAL.value == "local-rlimits"


def test_with_bubblewrap_the_warm_host_needs_root(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(isolation, "bwrap_works", lambda: True)
    for euid, warm, expected in [
        (0, True, Isolation.BWRAP_HOST),
        (0, False, Isolation.BWRAP_PER_SUBMISSION),
        (1000, True, Isolation.BWRAP_PER_SUBMISSION),
    ]:
        monkeypatch.setattr(isolation.os, "geteuid", lambda euid=euid: euid)
        assert resolve(SandboxPolicy(warm=warm)) is expected
    assert resolve(SandboxPolicy(use_bwrap=False)) is Isolation.LOCAL


def test_launch_descriptions_round_trip_and_take_no_other_field():
    zygote = ZygoteSpec("/sandbox/lib", 7, Limits(cpu_seconds=5), uid=123, preload=("nbformat",))
    assert ZygoteSpec.from_json(zygote.to_json()) == zygote
    setup = SessionSetup({"layers": ["Linear.forward"]}, {}, ["fc_net.TwoLayerNet"])
    assert SessionSetup.from_wire(setup.to_wire()) == setup
    assert setup.callback_targets() == {"layers.Linear.forward"}
    with pytest.raises(ValueError):
        SessionSetup.from_wire({**setup.to_wire(), "extra": 1})
    with pytest.raises(ValueError):
        SessionSetup.from_wire(["proxies"])


def _notebook(*sources: str) -> nbformat.NotebookNode:
    setup = (
        "import sys\nfrom pathlib import Path\nsys.path.insert(0, str(Path.cwd().resolve().parents[1]))\n"
        "from grader.student.notebook import check, quick_test\nfrom course_lib import layers"
    )
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in (setup, *sources)])


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(str(o.get("text", "")) + str(o.get("evalue", "")) for o in cell.outputs)


def test_a_notebook_runs_in_a_forked_kernel_and_sees_nothing_the_checks_left(tmp_path: Path):
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "layers.py").write_text(STASH)
    assemble_lib(tasks, tmp_path / "lib")
    with Sandbox(tmp_path / "lib", POLICY) as checks, checks.session() as session:
        assert session.call("layers.stash", "HIDDEN-INPUT") is True
    notebook = _notebook(
        'check("Linear.forward")\nwith quick_test():\n    raise NotImplementedError("Linear.forward is a stub")',
        "import glob, os, tempfile, torch\n"
        "print('threads', torch.get_num_threads())\n"
        "print('found', [open(p).read() for d in {tempfile.gettempdir(), '/tmp'} "
        "for p in glob.glob(os.path.join(d, '**', 'stash.txt'), recursive=True)])",
        "1 / 0",
        "print('after the error')",
    )
    with Sandbox(tmp_path / "lib", POLICY) as sandbox:
        executed, problem = execute(notebook, "a1_fully_connected", sandbox, timeout=120)
    assert problem == ""
    assert not any(o.output_type == "error" for o in executed.cells[0].outputs), executed.cells[0].outputs
    assert "graded by the autograder" in _text(executed.cells[1]) and "is a stub" in _text(executed.cells[1])
    assert "threads 1" in _text(executed.cells[2])
    if sandbox.isolation.sandboxed:  # without bubblewrap every process shares the machine's /tmp
        assert "HIDDEN-INPUT" not in _text(executed.cells[2]), _text(executed.cells[2])
    assert [o.ename for o in executed.cells[3].outputs] == ["ZeroDivisionError"]
    assert "after the error" in _text(executed.cells[4])


def test_a_kernel_that_kills_its_runner_is_reported_with_its_last_words(tmp_path: Path):
    assemble_lib(paths.SOLUTION_LIB, tmp_path / "lib")
    notebook = _notebook(
        "import os, signal\nos.write(2, b'LAST-WORDS\\n')\nos.kill(os.getppid(), signal.SIGKILL)"
    )
    with Sandbox(tmp_path / "lib", POLICY) as sandbox:
        executed, problem = execute(notebook, "a1_fully_connected", sandbox, timeout=120)
    assert problem.startswith("notebook execution failed:") and "LAST-WORDS" in problem, problem
    assert executed is notebook
