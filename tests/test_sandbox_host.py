"""The warm sandbox host: submissions share one long-lived sandbox, in turn, and nothing of one
reaches the next. Tenant A leaves everything it can behind (files, unreadable trees, System V
IPC, detached and stopped processes); tenant B, in the same sandbox, must find none of it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from grader import paths
from grader.checks import registry
from grader.checks.engine import CheckRunner, assemble_lib, submission_lib
from grader.checks.reference import ReferenceStore, load_reference
from grader.sandbox import host, launch
from grader.sandbox.launch import SandboxPolicy
from grader.sandbox.session import Sandbox, StudentError

pytestmark = pytest.mark.skipif(
    launch.bwrap_path() is None or os.geteuid() != 0,
    reason="the sandbox host needs bubblewrap and root (each tenant gets its own uid)",
)

PLANTER = '''
import ctypes, os, signal, subprocess, sys, time

def plant():
    """Leave traces everywhere a tenant can write, and processes that try to stay."""
    with open("/tmp/left-behind.txt", "w") as handle:
        handle.write("PLANTED-SECRET")
    os.chmod("/tmp/left-behind.txt", 0o666)
    os.makedirs("/tmp/locked/deeper/deepest")
    with open("/tmp/locked/deeper/deepest/f", "w") as handle:
        handle.write("x")
    for path in ("/tmp/locked/deeper/deepest", "/tmp/locked/deeper", "/tmp/locked"):
        os.chmod(path, 0)
    os.mkfifo(os.path.join(os.getcwd(), "fifo"))
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    shm = libc.shmget(0x5EC1, 4096, 0o1000 | 0o666)  # IPC_CREAT, world-readable
    sem = libc.semget(0x5EC2, 1, 0o1000 | 0o666)
    msg = libc.msgget(0x5EC3, 0o1000 | 0o666)
    if os.uname().machine == "x86_64":  # add_key(2) into the uid's user keyring, which outlives it
        libc.syscall(248, b"user", b"left-behind", b"PLANTED", 7, -4)
    sleeper = "import os, time\\nos.setsid()\\nwhile True: time.sleep(0.05)"
    for _ in range(3):
        subprocess.Popen([sys.executable, "-c", sleeper], start_new_session=True)
    stopped = os.fork()
    if stopped == 0:
        os.kill(os.getpid(), signal.SIGSTOP)
        os._exit(0)
    if os.fork() == 0:  # a double-forked orphan that ignores SIGTERM
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if os.fork() == 0:
            while True:
                time.sleep(0.05)
        os._exit(0)
    time.sleep(0.3)
    return [os.getuid(), shm, sem, msg, os.getcwd()]

def observe():
    """What a later tenant can see of the sandbox."""
    processes = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as handle:
                    uid = int(next(l for l in handle if l.startswith("Uid:")).split()[1])
                processes.append(uid)
            except (OSError, StopIteration):
                pass
    ipc = {kind: open(f"/proc/sysvipc/{kind}").read().splitlines()[1:] for kind in ("shm", "sem", "msg")}
    inbox = sorted(os.listdir("/sandbox/inbox")) if os.access("/sandbox/inbox", os.R_OK) else None
    scratch = sorted(e for e in os.listdir("/tmp") if os.lstat("/tmp/" + e).st_uid != 0)  # not bwrap's
    return [os.getuid(), scratch, processes, ipc, inbox, os.getcwd()]

def read(path):
    with open(path) as handle:
        return handle.read()

def attack_root_processes():
    """Signal, trace and read every root process in view (bwrap's init, the host zygote)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    attempts = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or os.stat(f"/proc/{entry}").st_uid != 0:
            continue
        pid = int(entry)
        for what in ("kill", "ptrace", "environ", "mem"):
            try:
                if what == "kill":
                    os.kill(pid, signal.SIGKILL)
                elif what == "ptrace":
                    if libc.ptrace(16, pid, None, None) != 0:  # PTRACE_ATTACH
                        raise PermissionError(ctypes.get_errno(), "ptrace")
                else:
                    with open(f"/proc/{pid}/{what}", "rb") as handle:
                        handle.read(1)
                attempts.append([pid, what, "succeeded"])
            except OSError:
                attempts.append([pid, what, "denied"])
    return attempts
'''


def _lib(tmp: Path, name: str) -> Path:
    tasks = tmp / f"{name}-tasks"
    tasks.mkdir()
    (tasks / "layers.py").write_text(PLANTER)
    lib = tmp / name
    assemble_lib(tasks, lib)
    return lib


def test_a_tenant_leaves_nothing_for_the_next(tmp_path: Path):
    policy = SandboxPolicy()
    first, second = _lib(tmp_path, "first"), _lib(tmp_path, "second")
    with Sandbox(first, policy) as sandbox, sandbox.session() as session:
        uid_a, *_, home_a = session.call("layers.plant", timeout=20)
    assert uid_a >= host.TENANT_UID_BASE and home_a == f"/tmp/tenant-{uid_a}"
    shared = host.shared_host(policy.limits)
    zygote = shared.process.pid if shared.process else None

    with Sandbox(second, policy) as sandbox, sandbox.session() as session:
        uid_b, scratch, uids, ipc, inbox, home_b = session.call("layers.observe")
        with pytest.raises(StudentError, match=r"Permission denied|No such file"):
            session.call("layers.read", f"/sandbox/inbox/{uid_a}/course_lib/layers.py")
        assert shared.process is not None and shared.process.pid == zygote, "the host was restarted"
    assert uid_b != uid_a
    assert scratch == [f"tenant-{uid_b}"] and home_b == f"/tmp/tenant-{uid_b}"
    assert set(uids) <= {0, uid_b}, f"processes of other uids are alive: {sorted(set(uids))}"
    assert ipc == {"shm": [], "sem": [], "msg": []}
    assert inbox is None, "tenants must not list the inbox"
    if os.uname().machine == "x86_64":
        assert _keys_of(uid_a) <= 2, "the first tenant's key is still in its keyring"


def _keys_of(uid: int, wait: float = 5.0) -> int:
    """Keys the kernel holds for ``uid`` (its two keyrings count), once garbage collection ran."""
    deadline = time.monotonic() + wait
    while True:
        rows = [line.split() for line in Path("/proc/key-users").read_text().splitlines()]
        keys = next((int(row[2].split("/")[0]) for row in rows if row[0] == f"{uid}:"), 0)
        if keys <= 2 or time.monotonic() > deadline:
            return keys
        time.sleep(0.05)


def test_a_dead_host_is_replaced(tmp_path: Path):
    policy = SandboxPolicy()
    lib = _lib(tmp_path, "lib")
    with Sandbox(lib, policy) as sandbox, sandbox.session() as session:
        assert session.call("layers.observe")[0] >= host.TENANT_UID_BASE
    shared = host.shared_host(policy.limits)
    assert shared.process is not None
    shared.process.kill()
    shared.process.wait()
    with Sandbox(lib, policy) as sandbox:
        with sandbox.session() as session:
            assert session.call("layers.observe")[0] >= host.TENANT_UID_BASE
        assert shared.alive()


def test_a_tenant_cannot_signal_trace_or_read_the_host(tmp_path: Path):
    policy = SandboxPolicy()
    lib = _lib(tmp_path, "lib")
    with Sandbox(lib, policy) as sandbox, sandbox.session() as session:
        attempts = session.call("layers.attack_root_processes")
    shared = host.shared_host(policy.limits)
    zygote = shared.process.pid if shared.process else None
    assert attempts and all(outcome == "denied" for _, _, outcome in attempts), attempts
    with Sandbox(lib, policy) as sandbox, sandbox.session() as session:
        assert session.call("layers.observe")[0] >= host.TENANT_UID_BASE
    assert shared.process is not None and shared.process.pid == zygote


@pytest.mark.parametrize("source", ["solutions", "stubs"])
def test_warm_and_fresh_sandboxes_grade_alike(source: str):
    reference = load_reference()
    checks = registry.select(registry.load_checks(include_hidden=True), ["a3_dropout"])
    results = {}
    with submission_lib(paths.SOLUTIONS if source == "solutions" else paths.REPO) as (lib, _):
        for warm in (True, False):
            policy = SandboxPolicy(warm=warm)
            with CheckRunner(lib, policy, reference, ReferenceStore("grade", reference)) as runner:
                results[warm] = runner.run(checks)
                assert (runner.sandbox.host is not None) == warm
    assert results[True] == results[False]
    assert all(r.passed for r in results[True]) == (source == "solutions")
    assert any(r.passed for r in results[True]) == (source == "solutions")
