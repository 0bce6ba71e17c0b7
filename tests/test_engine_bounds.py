"""Bounds of the grading engine that no reply or callback of a submission can lift: the order of
checks (hidden after public), the grader's memory while decoding, the reference callbacks' time,
and the length of student-controlled text in messages."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from grader import paths
from grader.checks import callbacks, registry
from grader.checks import engine as runner_module
from grader.checks.engine import MAX_MESSAGE, CheckRunner, assemble_lib, explain
from grader.checks.reference import ReferenceStore, load_reference
from grader.sandbox import protocol
from grader.sandbox.launch import SandboxPolicy
from grader.sandbox.session import (
    MAX_ERROR_MESSAGE,
    MAX_ERROR_TYPE,
    MAX_TRACEBACK,
    ChildDied,
    Sandbox,
    StudentError,
)
from grader.sandbox.spec import SessionSetup

LOCAL = SandboxPolicy(use_bwrap=False)

# --------------------------------------------------------------------------------------------
# Order: every hidden check after every public one, in sessions of their own
# --------------------------------------------------------------------------------------------


def test_hidden_checks_run_after_every_public_check_in_their_own_sessions(monkeypatch):
    tasks = ["Linear.forward", "ReLU.forward", "TwoLayerNet.loss"]
    checks = registry.select(registry.load_checks(), ["a1_fully_connected"], tasks=tasks)
    assert {c.visibility for c in checks} == {"public", "hidden"}
    order: list[tuple[str, str, int]] = []
    seen: list[Any] = []  # kept alive, so that no two sessions share an id()
    original = runner_module._run_one

    def spy(check: registry.Check, session: Any, *args: Any) -> str:
        seen.append(session)
        order.append((check.visibility, check.task.name, id(session)))
        return original(check, session, *args)

    monkeypatch.setattr(runner_module, "_run_one", spy)
    reference = load_reference()
    with CheckRunner(
        paths.REPO / "solutions", LOCAL, reference, ReferenceStore("grade", reference)
    ) as runner:
        results = runner.run(list(reversed(checks)))  # any order in, results in that order out
    assert [r.check for r in results] == [c.name for c in reversed(checks)]
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
    visibilities = [visibility for visibility, _, _ in order]
    assert visibilities == sorted(visibilities, key=lambda v: v != "public")
    sessions: dict[int, set[tuple[str, str]]] = {}
    for visibility, task, session in order:
        sessions.setdefault(session, set()).add((visibility, task))
    assert all(len(groups) == 1 for groups in sessions.values()), sessions


# --------------------------------------------------------------------------------------------
# Decoding: the grader's memory stays under a stated bound whatever a reply says
# --------------------------------------------------------------------------------------------

MIB = 1 << 20


def decode_bound(header_bytes: int, blob_bytes: int) -> int:
    """What decoding one frame may add to the grader's peak memory: its tensors (never more bytes
    than the blob carries), the parsed JSON header (~24 bytes of Python objects per header byte at
    worst) and a fixed allowance. With the frame limits that is at most ~0.8 GiB per frame."""
    return blob_bytes + 32 * header_bytes + 64 * MIB


_MEASURE = textwrap.dedent(
    """
    import json, sys
    import torch  # noqa: F401  (its memory is the baseline)
    from grader.sandbox import protocol

    def rss(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) * 1024

    def frame(case):
        if case == "alias":  # one 8 MB tensor named 400 times: 3.2 GB if copied per reference
            blob = bytes(8 << 20)
            spec = {"dtype": "float64", "shape": [1 << 20], "offset": 0, "nbytes": len(blob)}
            return {"value": {"$tuple": [{"$tensor": 0}] * 400}, "tensors": [spec]}, blob
        if case == "empty_tensors":  # a million references to an empty tensor
            spec = {"dtype": "float64", "shape": [0], "offset": 0, "nbytes": 0}
            return {"value": {"$list": [{"$tensor": 0}] * 1_000_000}, "tensors": [spec]}, b""
        if case == "many_values":
            return {"value": {"$list": [0] * 3_000_000}}, b""
        if case == "many_lists":  # the most Python objects per header byte, within the limits
            return {"value": {"$list": [{"$list": []}] * 1_300_000}}, b""
        if case == "deep":
            value = 0
            for _ in range(protocol.MAX_DEPTH + 5):
                value = {"$list": [value]}
            return {"value": value}, b""
        if case == "honest_big":  # the largest honest reply: one tensor of 200 MB
            blob = bytes(200 << 20)
            spec = {"dtype": "uint8", "shape": [len(blob)], "offset": 0, "nbytes": len(blob)}
            return {"value": {"$tensor": 0}, "tensors": [spec]}, blob
        raise ValueError(case)

    results = {}
    for case in sys.argv[1:]:
        message, blob = frame(case)
        header = json.dumps({"kind": "result", **message}).encode()
        del message
        before = rss("VmRSS:")
        open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to now
        try:
            value = protocol.parse_frame(header, blob)
            outcome = "decoded"
        except protocol.ProtocolError as error:
            outcome = str(error)
        grown = rss("VmHWM:") - before
        value = None
        results[case] = {"outcome": outcome, "grown": grown, "header": len(header), "blob": len(blob)}
        del header, blob
    print(json.dumps(results))
    """
)


def test_decoding_memory_stays_bounded_whatever_a_reply_says():
    cases = ["alias", "empty_tensors", "many_values", "many_lists", "deep", "honest_big"]
    process = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cases], cwd=paths.REPO, capture_output=True, text=True, timeout=300
    )
    assert process.returncode == 0, process.stderr
    results = json.loads(process.stdout)
    for case, result in results.items():
        bound = decode_bound(result["header"], result["blob"])
        print(f"{case}: {result['grown'] / MIB:.0f} MiB (bound {bound / MIB:.0f} MiB): {result['outcome']}")
        assert result["grown"] <= bound, (case, result)
    assert "aliases count" in results["alias"]["outcome"]
    assert f"more than {protocol.MAX_TENSORS} tensors" in results["empty_tensors"]["outcome"]
    assert f"more than {protocol.MAX_VALUES} values" in results["many_values"]["outcome"]
    assert f"more than {protocol.MAX_DEPTH} deep" in results["deep"]["outcome"]
    assert results["many_lists"]["outcome"] == results["honest_big"]["outcome"] == "decoded"


def test_an_honest_frame_round_trips():
    value = (
        [torch.arange(6.0).reshape(2, 3), torch.zeros(0), torch.ones(2, dtype=torch.bfloat16)],
        {"k": 1.5},
    )
    header, blob = protocol.split_frame(bytearray(protocol.frame_bytes({"kind": "result"}, value)))
    _, decoded = protocol.parse_frame(header, blob)
    assert [t.dtype for t in decoded[0]] == [t.dtype for t in value[0]]
    assert (
        all(torch.equal(a, b) for a, b in zip(decoded[0], value[0], strict=True)) and decoded[1] == value[1]
    )


# --------------------------------------------------------------------------------------------
# Reference callbacks: computed outside the grader, bounded per call and per submission
# --------------------------------------------------------------------------------------------


def _reply(frame: bytes) -> tuple[dict[str, Any], Any]:
    parts = protocol.split_frame(bytearray(frame))
    assert parts is not None
    return protocol.parse_frame(*parts)


def _huge_product() -> list[Any]:
    x = torch.ones(6000, 6000, dtype=torch.int8)  # ~5 s of one core in the reference
    return [x, x, torch.zeros(6000, dtype=torch.int8)]


def test_a_callback_that_overruns_is_stopped_at_its_bound_outside_the_grader():
    budget = callbacks.Callbacks()
    budget.prepare()
    grader_cpu, start = time.process_time(), time.monotonic()
    reply, _ = _reply(budget.answer("layers.Linear.forward", _huge_product(), {}, time.monotonic() + 60))
    took = time.monotonic() - start
    assert (
        reply["kind"] == "error" and f"at most {callbacks.CALLBACK_SECONDS:g} CPU seconds" in reply["message"]
    )
    assert callbacks.CALLBACK_SECONDS <= took < callbacks.CALLBACK_SECONDS + 2.0
    assert time.process_time() - grader_cpu < 0.5, "the product ran in the grader's own process"
    reply, _ = _reply(budget.answer("layers.ReLU.forward", [torch.ones(2)], {}, time.monotonic() + 10))
    assert reply["kind"] == "error" and "not running" in reply["message"]
    budget.prepare()  # the next session's start restarts the worker
    reply, value = _reply(
        budget.answer("layers.ReLU.forward", [torch.tensor([-1.0, 2.0])], {}, time.monotonic() + 10)
    )
    assert reply["kind"] == "result" and torch.equal(value[0], torch.tensor([0.0, 2.0]))


def test_a_callback_never_outlives_the_call_into_the_student_code():
    budget = callbacks.Callbacks()
    budget.prepare()
    start = time.monotonic()
    reply, _ = _reply(budget.answer("layers.Linear.forward", _huge_product(), {}, start + 0.5))
    assert reply["kind"] == "error" and time.monotonic() - start < callbacks.CALLBACK_SECONDS


def test_a_submissions_callbacks_share_one_budget():
    budget = callbacks.Callbacks(budget=1.0)
    assert budget.over() is None
    budget.charge(1.0)
    assert budget.over() == "its 1 s for calls into the reference"
    reply, _ = _reply(budget.answer("layers.ReLU.forward", [torch.ones(2)], {}, time.monotonic() + 10))
    assert reply["kind"] == "error" and "no time left" in reply["message"]


def test_a_session_that_keeps_calling_back_after_the_budget_ends(tmp_path: Path):
    """Decoding callbacks is the grader's work: a child looping on cheap callbacks is cut off
    when they have cost the budget, not at the call's timeout."""
    task_dir = tmp_path / "submission"
    task_dir.mkdir()
    source = (paths.COURSE_LIB / "fc_net.py").read_text()
    source += textwrap.dedent(
        """

        def flood(x):
            from course_lib.layers import ReLU

            while True:
                ReLU.forward(x)
        """
    )
    (task_dir / "fc_net.py").write_text(source)
    assemble_lib(task_dir, tmp_path / "lib")
    worker = callbacks.shared_worker()
    if not worker.alive():  # started here, so that its start-up is not part of the 1 s
        worker.start()
    sandbox = Sandbox(tmp_path / "lib", LOCAL, callbacks.Callbacks(budget=1.0))
    reference = load_reference()
    assert reference is not None
    setup = SessionSetup(proxies={"layers": reference.callables("layers")})
    start = time.monotonic()
    with sandbox, sandbox.session(setup, timeout=60) as session, pytest.raises(ChildDied) as died:
        session.call("fc_net.flood", torch.ones(1000))
    assert "after using up its 1 s for calls into the reference" in str(died.value)
    assert time.monotonic() - start < 20


def test_every_check_seeds_the_reference_that_answers_its_callbacks():
    """A stand-in that draws from the global generator (dropout without a seed) gives the same
    numbers in a check whatever the worker answered before it, so messages repeat exactly."""
    budget = callbacks.Callbacks()
    budget.prepare()

    def mask() -> torch.Tensor:
        reply, value = _reply(
            budget.answer("layers.Dropout.forward", [torch.ones(64), {"mode": "train", "p": 0.5}], {},
                          time.monotonic() + 10)
        )  # fmt: skip
        assert reply["kind"] == "result"
        return value[0]

    budget.seed(11)
    first = mask()
    unseeded = mask()  # what another check, earlier in the same worker, draws
    budget.seed(11)
    assert torch.equal(mask(), first)
    assert not torch.equal(unseeded, first)


def test_the_reference_rejecting_student_arguments_is_an_error_reply():
    budget = callbacks.Callbacks()
    budget.prepare()
    reply, _ = _reply(
        budget.answer("layers.Linear.forward", [torch.ones(2, 3), "w", None], {}, time.monotonic() + 10)
    )
    assert reply["kind"] == "error" and reply["message"].startswith(
        ("TypeError", "AttributeError", "RuntimeError")
    )


# --------------------------------------------------------------------------------------------
# Student-controlled text in messages is bounded
# --------------------------------------------------------------------------------------------


def test_exception_names_and_messages_from_student_code_are_bounded(tmp_path: Path):
    """The child cuts them too, but the child is the student's: this one sends them uncut."""
    task_dir = tmp_path / "submission"
    task_dir.mkdir()
    source = (paths.COURSE_LIB / "layers.py").read_text()
    source += textwrap.dedent(
        """

        def boom():
            import sys

            def uncut(error):
                return {"type": type(error).__name__, "message": str(error), "traceback": "t" * 10**6}

            sys.modules["__main__"].describe = uncut
            raise type("E" * 100_000, (Exception,), {})("m" * 500_000)
        """
    )
    (task_dir / "layers.py").write_text(source)
    assemble_lib(task_dir, tmp_path / "lib")
    with (
        Sandbox(tmp_path / "lib", LOCAL) as sandbox,
        sandbox.session() as session,
        pytest.raises(StudentError) as raised,
    ):
        session.call("layers.boom")
    error = raised.value
    assert error.type_name == "E" * MAX_ERROR_TYPE and error.message == "m" * MAX_ERROR_MESSAGE
    assert len(error.traceback) <= MAX_TRACEBACK
    assert len(explain(error)) <= MAX_MESSAGE
