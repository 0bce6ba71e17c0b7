"""One long-lived sandbox per grading process, serving many submissions in turn ("warm" mode).

Starting a sandbox costs ~1.5 s, almost all of it ``import torch``. A :class:`SandboxHost`
pays that once: its bubblewrap sandbox runs a host zygote (``child.py ... host``) that has
imported torch and the given modules and holds nothing else: no reference, no check, no other
submission. Each submission becomes a *tenant*: the grader copies its assembled ``course_lib``
into ``inbox/<uid>`` (owned by that uid, mode 0700, mounted read-only), and the host zygote
forks a process that switches to that uid for good and serves the submission's sessions.

Between tenants the host kills every process of the old uid and deletes its files and IPC
objects, and the grader waits for its ``clean`` report before admitting the next submission.
Every uid serves one tenant. Anything unexpected (no report, ``dirty``, a dead zygote) kills the
whole sandbox; the next submission starts a fresh one.

Only root can switch uids, so warm mode needs root; otherwise every submission gets its own
sandbox (:func:`grader.sandbox.isolation.resolve` decides).
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing.util
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

from grader.sandbox import course, launch, spec

log = logging.getLogger(__name__)

#: Inside the sandbox: where tenants' task files appear (see child.INBOX).
SANDBOX_INBOX = "/sandbox/inbox"
START_TIMEOUT = 60.0
#: Seconds for a tenant to start, and for the host to clean up after one.
TENANT_TIMEOUT = 30.0
#: Uids of tenants: TENANT_UID_BASE + (grader pid x UIDS_PER_PROCESS + n) % UID_SPAN.
TENANT_UID_BASE = 1_000_000
UIDS_PER_PROCESS = 4096
UID_SPAN = 2_000_000_000


class HostFailed(RuntimeError):
    """The host sandbox did not start or did not answer in time; it has been killed."""


class SandboxHost:
    """A long-lived bubblewrap sandbox whose zygote forks one tenant per submission."""

    def __init__(self, limits: spec.Limits, preload: tuple[str, ...] = ()) -> None:
        self.limits, self.preload = limits, preload
        self.process: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None
        self.folder: tempfile.TemporaryDirectory[str] | None = None
        self.tenant_uid: int | None = None
        self.admitted = 0

    # -- lifecycle --------------------------------------------------------------------------
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None and self.control is not None

    def start(self) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="grader-host-")
        root = Path(self.folder.name)
        inbox, base = root / "inbox", root / "lib"
        inbox.mkdir(mode=0o711)
        inbox.chmod(0o711)  # tenants may enter, not list: each opens only its own folder
        course.assemble_lib(None, base)
        parent_end, child_end = socket.socketpair()
        zygote = spec.ZygoteSpec(
            launch.SANDBOX_LIB, child_end.fileno(), self.limits, mode=spec.HOST, preload=self.preload
        )
        mounts = [launch.Mount(base, launch.SANDBOX_LIB), launch.Mount(inbox, SANDBOX_INBOX)]
        command = launch.zygote_command(zygote, mounts, self.limits.scratch_bytes)
        self.process = launch.spawn_zygote(command, child_end.fileno(), root)
        child_end.close()
        self.control = parent_end
        if not launch.await_ready(self.control, START_TIMEOUT):
            error = launch.stderr_tail(root) or "no output"
            self.kill()
            raise HostFailed(f"the sandbox host did not start: {error}")

    def kill(self) -> None:
        """Kill the whole sandbox (every tenant with it) and delete its folders."""
        launch.kill_group(self.process)
        self.process = None
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.folder is not None:
            self.folder.cleanup()
            self.folder = None
        self.tenant_uid = None

    # -- tenants ----------------------------------------------------------------------------
    def admit(self, lib_dir: Path) -> tuple[socket.socket, int]:
        """Start a tenant for the ``course_lib`` in ``lib_dir``; returns its control socket (the
        zygote protocol of :mod:`grader.sandbox.session`) and uid. One tenant at a time: a
        current one is dismissed first."""
        if self.tenant_uid is not None:
            self.dismiss(self.tenant_uid)
        uid = self._next_uid()
        if not self.alive():
            self.start()
        assert self.control is not None and self.folder is not None
        inbox = Path(self.folder.name) / "inbox" / str(uid)
        course.hand_over(lib_dir, inbox, uid)
        tenant, child_end = socket.socketpair()
        try:
            socket.send_fds(self.control, [f"tenant {uid}".encode()], [child_end.fileno()])
        except OSError as error:
            self.kill()
            raise HostFailed(f"the sandbox host is gone: {error}") from None
        finally:
            child_end.close()
        self.tenant_uid = uid
        if not launch.await_ready(tenant, TENANT_TIMEOUT):
            tenant.close()
            self.kill()
            raise HostFailed("the submission's process did not start in the sandbox host")
        return tenant, uid

    def dismiss(self, uid: int) -> None:
        """End tenant ``uid`` if it is the current one: the host kills its processes and deletes
        its files. Anything short of a ``clean`` report in time kills the whole sandbox."""
        if uid != self.tenant_uid or self.control is None or self.folder is None:
            return
        self.tenant_uid = None
        try:
            self.control.sendall(b"end")
            clean = self._receive(TENANT_TIMEOUT) == b"clean\n"
        except OSError:
            clean = False
        shutil.rmtree(Path(self.folder.name) / "inbox" / str(uid), ignore_errors=True)
        if not clean:
            log.warning(
                "a submission left traces the sandbox host could not remove; starting a fresh sandbox"
            )
            self.kill()

    def _next_uid(self) -> int:
        uid = tenant_uid(os.getpid(), self.admitted)
        self.admitted += 1
        if self.admitted % UIDS_PER_PROCESS == 0:  # never reuse a uid within one sandbox's life
            self.kill()
        return uid

    def _receive(self, timeout: float) -> bytes:
        assert self.control is not None
        self.control.settimeout(timeout)
        try:
            return self.control.recv(6)
        except OSError:
            return b""


def tenant_uid(grader_pid: int, number: int) -> int:
    """The uid of the ``number``-th tenant admitted by grading process ``grader_pid``."""
    return TENANT_UID_BASE + (grader_pid * UIDS_PER_PROCESS + number % UIDS_PER_PROCESS) % UID_SPAN


_hosts: dict[int, SandboxHost] = {}


def shared_host(limits: spec.Limits, preload: tuple[str, ...] = ()) -> SandboxHost:
    """This thread's host, with ``limits`` and ``preload`` (started on first use, replaced when
    they change, killed at exit). Per thread: an executor that grades several submissions at once
    in one process (Dask threads) gets a sandbox for each."""
    host = _hosts.get(threading.get_ident())
    if host is None or (host.limits, host.preload) != (limits, preload):
        if host is not None:
            host.kill()
        host = _hosts[threading.get_ident()] = SandboxHost(limits, preload)
    return host


def _kill_hosts() -> None:
    for host in list(_hosts.values()):
        host.kill()


# Process-pool workers leave through os._exit, which skips atexit but runs multiprocessing's
# finalizers; bubblewrap's --die-with-parent stops the sandbox either way, this removes its folder.
atexit.register(_kill_hosts)
multiprocessing.util.Finalize(None, _kill_hosts, exitpriority=10)
