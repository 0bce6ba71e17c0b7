"""Reference callbacks (no-cascade substitution), computed in a separate, bounded process.

While a later task is graded, the earlier modules it calls are the reference implementation: the
child asks the grader to run them (a callback). The arguments are the student's, so the reference
can be asked for anything, a multi-gigabyte product or minutes of integer matrix products. It
therefore never runs in the grader's own process but in one :class:`ReferenceWorker` per grading
thread (a fresh interpreter, not a fork: see ``batch.local_pool``), under hard bounds:

* one torch thread, so its CPU time is at most its wall-clock time;
* each callback may take :data:`CALLBACK_SECONDS`, and no more than the call into the student's
  code has left; a worker that takes longer is killed, and started again before the next session
  that needs it;
* a submission's callbacks get :data:`CALLBACK_BUDGET` seconds in all, counting the grader's own
  work on them (decoding the request, relaying the answer) and worker start-ups; a session that
  calls back after that is ended;
* its address space may grow by :data:`CALLBACK_MEMORY` after start-up.

Its global random generator is seeded with the check's seed before the first callback of every
check (:meth:`Callbacks.seed`), as the child's is: what a stand-in draws (a dropout mask without a
seed, say) depends on the check, not on which checks that worker answered before.

Every refusal names its bound; the child's stand-in raises it as an error in the student's code.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import multiprocessing.util
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from grader import paths
from grader.sandbox import launch, protocol

#: Seconds one callback may take (CPU and wall-clock: the worker runs one thread).
CALLBACK_SECONDS = 2.0
#: Seconds all of one submission's callbacks may take together, worker start-ups included.
CALLBACK_BUDGET = 30.0
#: Bytes the worker's address space may grow by while it answers callbacks.
CALLBACK_MEMORY = 2 * 1024**3
START_TIMEOUT = 60.0
_LENGTH = 8
_PR_SET_PDEATHSIG = 1


class WorkerFailed(RuntimeError):
    """The worker did not start, did not answer in time, or broke the protocol; it is killed."""


class ReferenceWorker:
    """A process that runs reference functions on request, one at a time."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None and self.sock is not None

    def start(self) -> None:
        parent_end, child_end = socket.socketpair()
        environment = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONPATH": str(paths.REPO),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader.checks.callbacks", str(child_end.fileno())],
            pass_fds=(child_end.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            cwd=paths.REPO,
            env=environment,
            start_new_session=True,
        )
        child_end.close()
        self.sock = parent_end
        if not launch.await_ready(self.sock, START_TIMEOUT):
            self.kill()
            raise WorkerFailed("the reference process did not start")

    def kill(self) -> None:
        launch.kill_group(self.process)
        self.process = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def call(
        self, target: str, args: list[Any], kwargs: dict[str, Any], seconds: float, seed: int | None = None
    ) -> bytes:
        """The reply frame (a result, or an error the reference raised) of ``target(*args,
        **kwargs)``, after seeding the worker's global generator with ``seed`` if given. Raises
        :class:`WorkerFailed` (and kills the worker) after ``seconds``."""
        assert self.sock is not None
        deadline = time.monotonic() + seconds
        request: dict[str, Any] = {"target": target}
        if seed is not None:
            request["seed"] = seed
        try:
            self._send(protocol.frame_bytes(request, (list(args), kwargs)), deadline)
            first = self._receive(_LENGTH, deadline)
            header = self._receive(int.from_bytes(first, "big"), deadline)
            second = self._receive(_LENGTH, deadline)
            size = int.from_bytes(second, "big")
            if len(header) + size > protocol.MAX_FRAME_BYTES:
                raise OSError("reply over the frame limit")
            return first + header + second + self._receive(size, deadline)
        except (OSError, protocol.ProtocolError) as error:
            self.kill()
            raise WorkerFailed(str(error)) from None

    def _send(self, data: bytes, deadline: float) -> None:
        assert self.sock is not None
        self.sock.settimeout(max(deadline - time.monotonic(), 1e-3))
        self.sock.sendall(data)

    def _receive(self, size: int, deadline: float) -> bytes:
        assert self.sock is not None
        if size > protocol.MAX_HEADER_BYTES + protocol.MAX_FRAME_BYTES:
            raise OSError("reply over the frame limit")
        parts, left = [], size
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OSError("timed out")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(min(left, 1 << 20))
            if not chunk:
                raise OSError("the reference process exited")
            parts.append(chunk)
            left -= len(chunk)
        return b"".join(parts)


class Callbacks:
    """One submission's access to the reference worker of this thread, within its budget."""

    def __init__(self, budget: float = CALLBACK_BUDGET) -> None:
        self.budget, self.spent = budget, 0.0
        #: Seed for the worker's generator, sent with the next callback (then None).
        self.pending_seed: int | None = None

    def seed(self, value: int) -> None:
        """A check starts: its first callback seeds the worker's global generator with ``value``."""
        self.pending_seed = value

    def prepare(self) -> None:
        """Start this thread's worker if it is not running (before a session that may call it,
        so that a start-up never eats into the time of a call into the student's code)."""
        worker = shared_worker()
        if worker.alive() or self.spent >= self.budget:
            return
        start = time.monotonic()
        with contextlib.suppress(WorkerFailed):  # callbacks will say it is not running
            worker.start()
        self.spent += time.monotonic() - start

    def charge(self, seconds: float) -> None:
        """Count ``seconds`` of the grader's work on a callback (decoding, answering, relaying)."""
        self.spent += seconds

    def over(self) -> str | None:
        """What was used up, once the budget is; None before."""
        return f"its {self.budget:g} s for calls into the reference" if self.spent >= self.budget else None

    def answer(self, target: str, args: list[Any], kwargs: dict[str, Any], deadline: float) -> bytes:
        """The frame to send back to the child for one callback: the reference's result, or an
        error that names the bound it hit. ``deadline``: when the student's call runs out. The
        caller charges the time (:meth:`charge`)."""
        seconds = min(CALLBACK_SECONDS, self.budget - self.spent, deadline - time.monotonic())
        if seconds <= 0:
            return _error(f"refused: no time left (in this call into your code, or of the {self.budget:g} s)")
        worker = shared_worker()
        if not worker.alive():
            return _error("the reference is not running (stopped after a call that overran its budget)")
        start = time.monotonic()
        try:
            reply = worker.call(target, args, kwargs, seconds, self.pending_seed)
        except WorkerFailed:
            return _error(
                f"stopped after {time.monotonic() - start:.1f} s: a call into the reference may take at "
                f"most {CALLBACK_SECONDS:g} CPU seconds ({self.budget:g} s per submission)"
            )
        self.pending_seed = None
        return reply


def _error(message: str) -> bytes:
    return protocol.frame_bytes({"kind": "error", "message": message})


_workers: dict[int, ReferenceWorker] = {}


def shared_worker() -> ReferenceWorker:
    """This thread's worker (one per thread: Dask runs several submissions in one process)."""
    return _workers.setdefault(threading.get_ident(), ReferenceWorker())


def _kill_workers() -> None:
    for worker in list(_workers.values()):
        worker.kill()


atexit.register(_kill_workers)
multiprocessing.util.Finalize(None, _kill_workers, exitpriority=10)


# -- the worker's side --------------------------------------------------------------------------
def _reply(reference: Any, request: dict[str, Any], value: Any) -> bytes:
    try:
        args, kwargs = value
        frame = protocol.frame_bytes({"kind": "result"}, reference.call(str(request["target"]), args, kwargs))
    except Exception as error:  # the reference rejects the student's arguments, or is too big
        return _error(f"{type(error).__name__}: {str(error)[:500]}")
    if len(frame) > protocol.MAX_FRAME_BYTES:
        return _error(f"the result is {len(frame)} bytes, over the frame limit of {protocol.MAX_FRAME_BYTES}")
    return frame


def _limit_memory(extra: int) -> None:
    with open("/proc/self/statm") as handle:
        size = int(handle.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (size + extra, size + extra))


def serve(fd: int) -> None:
    """The worker: import the reference, then answer requests on ``fd`` until it closes."""
    with contextlib.suppress(OSError, AttributeError):  # die with the grader, whatever it is doing
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    import torch

    from grader.checks.reference import ReferenceLib

    torch.set_num_threads(1)
    reference = ReferenceLib()
    for module in paths.TASK_MODULES:
        getattr(reference, module)
    _limit_memory(CALLBACK_MEMORY)
    os.write(fd, b"ready\n")
    while True:
        try:
            request, value = protocol.receive(fd)
        except (EOFError, OSError, protocol.ProtocolError):
            return
        if "seed" in request:
            torch.manual_seed(int(request["seed"]))
        view = memoryview(_reply(reference, request, value))
        while view:
            view = view[os.write(fd, view) :]


if __name__ == "__main__":
    serve(int(sys.argv[1]))
