"""The grader's side of the channel to a child running student code.

A :class:`Sandbox` is one zygote process for one submission (a tenant of this process's
long-lived :mod:`host`, its own bubblewrap sandbox, or a plain child process: its ``isolation``,
decided once by :func:`grader.sandbox.isolation.resolve`); each :class:`Session` is a fresh fork
of it.
Every wait has a deadline; the child's stdout/stderr is drained and bounded; a child that dies,
hangs or sends malformed data raises :class:`ChildDied` and the caller moves on to a fresh
session. Values coming back are decoded by :mod:`protocol`, so they can only be plain
data (exact tensors, numbers, strings, tuples, lists, dicts) or opaque :class:`Handle` objects.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

from grader.sandbox import host, launch, protocol
from grader.sandbox.isolation import Isolation, resolve
from grader.sandbox.protocol import Handle
from grader.sandbox.redact import redact
from grader.sandbox.spec import SessionSetup, ZygoteSpec

#: Bytes at the end of a session's stdout/stderr kept to explain a crash (:meth:`Session.last_line`).
OUTPUT_TAIL = 4096
START_TIMEOUT = 60.0
DEFAULT_CALL_TIMEOUT = 10.0
#: Longest exception type name, message and traceback (its end) kept from the student's code:
#: the child's own caps are the student's to change.
MAX_ERROR_TYPE, MAX_ERROR_MESSAGE, MAX_TRACEBACK = 100, 1000, 4000

#: The course rule a call breaks when student code uses torch.autograd (reported by the child).
AUTOGRAD_RULE = "autograd is not allowed: compute the gradient by hand"


class Reference(Protocol):
    """Answers the child's callbacks into the reference implementation (no-cascade stand-ins)."""

    def prepare(self) -> None:
        """Get ready before a session that may call back (outside any call's time)."""

    def seed(self, value: int) -> None:
        """Seed the reference's global random generator before its next callback."""

    def answer(self, target: str, args: list[Any], kwargs: dict[str, Any], deadline: float) -> bytes:
        """The frame to send back: the result of ``target(*args, **kwargs)`` or an error;
        never later than ``deadline`` (time.monotonic()) by more than its own bound."""

    def charge(self, seconds: float) -> None:
        """Count ``seconds`` of work on one callback against the submission's budget."""

    def over(self) -> str | None:
        """What the submission used up (no more callbacks), or None."""


class ChildError(Exception):
    """Something went wrong on the child's side of a call; the message names no machine path."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class StudentError(ChildError):
    """The student's code raised an exception; carries its type, message and traceback, with
    sandbox paths rewritten to the submission's own file names."""

    def __init__(self, type_name: str, message: str, traceback: str) -> None:
        message, traceback = redact(message), redact(traceback)
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name, self.message, self.traceback = type_name, message, traceback


class ChildDied(ChildError):
    """The child exited, hung, flooded or broke the protocol; the session is gone."""


class Sandbox:
    """One zygote for one submission's ``course_lib`` (a directory holding ``course_lib/``)."""

    def __init__(self, lib_dir: Path, policy: launch.SandboxPolicy, reference: Reference | None = None):
        self.lib_dir, self.policy, self.reference = lib_dir, policy, reference
        #: What runs this submission's code; raises SandboxUnavailable when the policy forbids it.
        self.isolation: Isolation = resolve(policy)
        self.process: subprocess.Popen[bytes] | None = None
        #: The long-lived sandbox this submission is a tenant of (bubblewrap-host), or None.
        self.host: host.SandboxHost | None = None
        self.tenant_uid: int | None = None
        self.control: socket.socket | None = None
        self.scratch: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> None:
        if self.isolation is Isolation.BWRAP_HOST:
            self.host = host.shared_host(self.policy.limits, self.policy.preload)
            try:
                self.control, self.tenant_uid = self.host.admit(self.lib_dir)
            except host.HostFailed as error:
                raise ChildDied(str(error)) from None
            return
        if self.scratch is not None:  # a restart: the dead zygote's folder goes
            self.scratch.cleanup()
        self.scratch = tempfile.TemporaryDirectory(prefix="grader-child-")
        parent_end, child_end = socket.socketpair()
        command = self._command(child_end.fileno())
        self.process = launch.spawn_zygote(command, child_end.fileno(), Path(self.scratch.name))
        child_end.close()
        self.control = parent_end
        if not launch.await_ready(self.control, START_TIMEOUT):
            error = self._stderr_tail()
            self.kill()
            raise ChildDied(f"the grading process did not start: {error or 'no output'}")

    def _command(self, control_fd: int) -> list[str]:
        """The zygote's command line: a bubblewrap sandbox of its own, or a plain process."""
        limits = self.policy.limits
        if self.isolation is Isolation.BWRAP_PER_SUBMISSION:
            zygote = ZygoteSpec(
                launch.SANDBOX_LIB, control_fd, limits, uid=launch.sandbox_uid(), own_pid_namespace=True
            )
            mounts = [launch.Mount(self.lib_dir, launch.SANDBOX_LIB)]
            return launch.zygote_command(zygote, mounts, limits.scratch_bytes)
        zygote = ZygoteSpec(str(self.lib_dir), control_fd, limits, uid=launch.local_uid())
        return launch.zygote_command(zygote, None, limits.scratch_bytes)

    def _stderr_tail(self) -> str:
        return launch.stderr_tail(Path(self.scratch.name)) if self.scratch is not None else ""

    def alive(self) -> bool:
        if self.host is not None:
            return self.control is not None and self.host.tenant_uid == self.tenant_uid and self.host.alive()
        return self.process is not None and self.process.poll() is None

    def session(
        self,
        setup: SessionSetup | None = None,
        timeout: float = DEFAULT_CALL_TIMEOUT,
        deadline: float | None = None,
    ) -> Session:
        """A fresh child forked from the zygote, with the stand-ins of ``setup`` installed.

        ``timeout``: seconds per call; ``deadline``: time.monotonic() after which no call of the
        session may run (a per-submission budget), or None."""
        if not self.alive():
            self.kill()
            self.start()
        assert self.control is not None
        session_end, child_end = socket.socketpair()
        output_read, output_write = os.pipe()
        try:
            socket.send_fds(self.control, [b"session"], [child_end.fileno(), output_write])
        except OSError as error:
            self.kill()
            raise ChildDied(f"the grading process is gone: {error}") from None
        finally:
            child_end.close()
            os.close(output_write)
        session = Session(self, session_end, output_read, timeout, deadline)
        if setup is not None:
            allowed = setup.callback_targets()
            if allowed and self.reference is not None:
                self.reference.prepare()
            session.request({"op": "setup"}, setup.to_wire(), allowed=allowed)
        return session

    def kill(self) -> None:
        """Kill the zygote and every process it started (the whole sandbox, or the tenant)."""
        if self.host is not None:
            if self.control is not None:
                self.control.close()
                self.control = None
            if self.tenant_uid is not None:
                self.host.dismiss(self.tenant_uid)
            self.host, self.tenant_uid = None, None
            return
        launch.kill_group(self.process)
        if self.control is not None:
            self.control.close()
            self.control = None

    def close(self) -> None:
        self.kill()
        if self.scratch is not None:
            self.scratch.cleanup()
            self.scratch = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def session_exit_code(self) -> int | None:
        """Exit code the zygote reports for the session that just ended, if it says in time."""
        if self.control is None:
            return None
        self.control.settimeout(2.0)
        try:
            data = self.control.recv(4)
        except OSError:
            return None
        return int.from_bytes(data, "big", signed=True) if len(data) == 4 else None


class Session:
    """One forked child. Calls block until the child answers, dies, or the deadline passes."""

    def __init__(
        self, sandbox: Sandbox, sock: socket.socket, output_fd: int, timeout: float, deadline: float | None
    ):
        self.sandbox, self.sock, self.output_fd, self.timeout = sandbox, sock, output_fd, timeout
        #: time.monotonic() after which no call may run, or None.
        self.deadline = deadline
        self.sock.setblocking(False)
        os.set_blocking(output_fd, False)
        self.buffer = bytearray()
        #: The end of the session's stdout/stderr (the student's: untrusted text).
        self.output_tail = bytearray()
        self.allowed: frozenset[str] = frozenset()
        #: Seconds spent decoding the last frame received.
        self.decode_seconds = 0.0
        self.dead: str | None = None
        self.expired = "timed out"

    # -- public API -------------------------------------------------------------------------
    def call(self, target: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Call ``module.attr.path`` of the student's course_lib, e.g. ``layers.Linear.forward``."""
        module, _, attr = target.partition(".")
        request = {"op": "call", "module": module, "attr": attr, "what": target}
        return self.request(request, (list(args), kwargs), timeout=timeout)

    def seed(self, value: int) -> None:
        """Seed the global random generators a check's calls draw from: the child's, and the
        reference's that answers its callbacks."""
        self.request({"op": "seed"}, value)
        if self.sandbox.reference is not None:
            self.sandbox.reference.seed(value)

    def call_method(
        self, obj: Handle, method: str, *args: Any, timeout: float | None = None, **kwargs: Any
    ) -> Any:
        """Call ``obj.method(*args, **kwargs)`` on a child-side object."""
        request = {"op": "call", "handle": obj.id, "attr": method, "what": f"{obj.type}.{method}"}
        return self.request(request, (list(args), kwargs), timeout=timeout)

    def derive(self, obj: Handle, method: str, *args: Any) -> Handle:
        """``obj.method(*args)`` computed and kept on the child's side (e.g. a non-contiguous
        view of a kept tensor, which the wire format would make contiguous)."""
        request = {
            "op": "call",
            "handle": obj.id,
            "attr": method,
            "what": f"{obj.type}.{method}",
            "keep": True,
        }
        handle = self.request(request, (list(args), {}))
        if not isinstance(handle, Handle):
            self._die(f"answered {method} with something other than a handle")
        return handle

    def get(self, obj: Handle, attr: str) -> Any:
        return self.request({"op": "get", "handle": obj.id, "attr": attr, "what": f"{obj.type}.{attr}"})

    def keep(self, value: Any) -> Handle:
        """Store ``value`` on the child's side; pass the handle as an argument, read it back with
        :meth:`read` (e.g. to see whether the student's code modified a tensor in place)."""
        handle = self.request({"op": "keep", "what": "keep"}, value)
        if not isinstance(handle, Handle):
            self._die("answered 'keep' with something other than a handle")
        return handle

    def read(self, obj: Handle) -> Any:
        """The current value of a child-side object (plain data, or a handle if it is not)."""
        return self.get(obj, "")

    def set(self, obj: Handle, attr: str, value: Any) -> None:
        self.request({"op": "set", "handle": obj.id, "attr": attr, "what": f"{obj.type}.{attr}"}, value)

    def last_line(self) -> str:
        """The last non-empty line the session wrote to stdout/stderr (the student's text)."""
        lines = self.output_tail.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""

    def close(self) -> int | None:
        """End the session; returns the child's exit code when the zygote reports it."""
        if self.dead is None:
            self.sock.close()
            self._drain_output(final=True)
            os.close(self.output_fd)
            self.dead = "closed"
            return self._reported_exit_code()
        return None

    def _reported_exit_code(self) -> int | None:
        """The zygote's report on this session; no report means it is dead or stuck (a session
        child that will not exit, a zygote killed by the student): replace the whole sandbox."""
        code = self.sandbox.session_exit_code()
        if code is None:
            self.sandbox.kill()
        return code

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- machinery --------------------------------------------------------------------------
    def request(
        self,
        message: dict[str, Any],
        value: Any = None,
        timeout: float | None = None,
        allowed: frozenset[str] | None = None,
    ) -> Any:
        if self.dead is not None:
            raise ChildDied(f"the session is already over ({self.dead})")
        what = message.get("what", message["op"])
        allowed_time = timeout or self.timeout
        deadline = time.monotonic() + allowed_time
        self.expired = f"timed out after {allowed_time:g} s during {what}"
        if self.deadline is not None and self.deadline < deadline:
            deadline = self.deadline
            self.expired = f"the submission's grading time budget ran out during {what}"
        self._send(protocol.frame_bytes(message, value), deadline, what)
        if allowed is not None:
            self.allowed = allowed
        while True:
            reply, result = self._receive(deadline, what)
            kind = reply.get("kind")
            if kind == "result" and reply.get("autograd"):
                raise StudentError("AutogradNotAllowed", AUTOGRAD_RULE, "")
            if kind == "result":
                return result
            if kind == "error":
                raise StudentError(
                    str(reply.get("type", "Error"))[:MAX_ERROR_TYPE],
                    str(reply.get("message", ""))[:MAX_ERROR_MESSAGE],
                    str(reply.get("traceback", ""))[-MAX_TRACEBACK:],
                )
            if kind == "callback":
                self._answer_callback(str(reply.get("target")), result, deadline, what)
                continue
            self._die(f"sent a message of unknown kind during {what}")

    def _answer_callback(self, target: str, value: Any, deadline: float, what: str) -> None:
        """Answer one callback. Decoding it and relaying the answer are the grader's work too:
        they count against the submission's callback budget, and a session that calls back once
        the budget is gone ends (the child could otherwise keep the grader decoding)."""
        reference = self.sandbox.reference
        if reference is not None:
            reference.charge(self.decode_seconds)
            used_up = reference.over()
            if used_up:
                self._die(f"called back during {what} after using up {used_up}")
        start = time.monotonic()
        if target not in self.allowed or reference is None or not _is_call(value):
            frame = protocol.frame_bytes({"kind": "error", "message": f"{target} is not available"})
        else:  # computed outside this process, within bounds of its own (grader.checks.callbacks)
            frame = reference.answer(target, *value, deadline)
        if reference is not None:
            reference.charge(time.monotonic() - start)
            used_up = reference.over()
            if used_up:  # the budget ran out during this callback: the session ends, whatever the answer
                self._die(f"called back during {what} after using up {used_up}")
        start = time.monotonic()
        self._send(frame, deadline, what)
        if reference is not None:
            reference.charge(time.monotonic() - start)

    def _die(self, reason: str) -> None:
        self.dead = reason
        self.sock.close()
        self._drain_output(final=True)
        os.close(self.output_fd)
        self.sandbox.kill()
        raise ChildDied(reason)

    def _send(self, data: bytes, deadline: float, what: str) -> None:
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._die(self.expired)
            _, writable, _ = select.select([self.output_fd], [self.sock], [], remaining)
            self._drain_output()
            if writable:
                try:
                    view = view[self.sock.send(view) :]
                except BlockingIOError:
                    continue
                except OSError:
                    self._exited(what)

    def _receive(self, deadline: float, what: str) -> tuple[dict[str, Any], Any]:
        while True:
            try:
                frame = protocol.split_frame(self.buffer)
            except protocol.ProtocolError as error:
                self._die(f"sent malformed data during {what}: {error}")
            if frame is not None:
                start = time.monotonic()
                try:
                    parsed = protocol.parse_frame(*frame)
                    self.decode_seconds = time.monotonic() - start
                    return parsed
                except protocol.ProtocolError as error:
                    self._die(f"sent malformed data during {what}: {error}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._die(self.expired)
            readable, _, _ = select.select([self.sock, self.output_fd], [], [], remaining)
            if self.output_fd in readable:
                self._drain_output()
            if self.sock in readable:
                try:
                    chunk = self.sock.recv(1 << 20)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self._exited(what)
                self.buffer += chunk

    def _exited(self, what: str) -> None:
        self.dead = "exited"
        self.sock.close()
        self._drain_output(final=True)
        os.close(self.output_fd)
        code = self._reported_exit_code()
        detail = f" with exit code {code}" if code is not None else ""
        raise ChildDied(f"the process exited{detail} during {what}")

    def _drain_output(self, final: bool = False) -> None:
        budget = 64 << 20 if final else 1 << 22
        while budget > 0:
            try:
                chunk = os.read(self.output_fd, 1 << 16)
            except (BlockingIOError, OSError):
                return
            if not chunk:
                return
            budget -= len(chunk)
            self.output_tail = (self.output_tail + chunk)[-OUTPUT_TAIL:]


def _is_call(value: Any) -> bool:
    return type(value) is tuple and len(value) == 2 and type(value[0]) is list and type(value[1]) is dict
