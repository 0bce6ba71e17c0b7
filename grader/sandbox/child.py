"""The process that runs student code. Started by the grader, usually inside the sandbox.

Run as ``python -I child.py SPEC`` (a :class:`spec.ZygoteSpec` as JSON). It imports torch and
the given modules of the ``course_lib`` in ``SPEC.lib_dir`` once, then serves as a fork server:
for every session the parent passes a fresh socket (and a pipe for the session's stdout/stderr)
over the control socket; a forked child serves requests on it until the parent closes it. The
zygote itself never runs student code, so a crashed or hanging session cannot poison the next
one. In its own PID namespace (bubblewrap) it also kills whatever the session left running
(double-forked, setsid orphans) before it reports the session's end.

Nothing in this process is trusted: the parent treats every byte it sends as the student's.

Host mode (``SPEC.mode == "host"``; see :mod:`grader.sandbox.host`): one
long-lived sandbox serves many submissions in turn. The host zygote keeps only CAP_SETUID and
CAP_SETGID and never runs student code. For each submission it forks a tenant that switches for
good to that submission's own uid, confines itself, imports the task files from
``INBOX/<uid>/course_lib`` (readable by that uid alone) and then serves sessions exactly like
the zygote above. When the grader ends the tenant, a reaper running as the tenant's uid kills
every process of that uid and removes its files, IPC objects and keys; the host reports ``clean``
only when nothing of the tenant is left. Tenants get a session keyring of their own and cannot
make kernel key system calls at all (:func:`confine.isolate_keys`); a key of the tenant's uid
left behind counts as a trace.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import signal
import socket
import sys
import time
import traceback
import types
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import kernel  # noqa: E402  (standalone imports: this file runs as a script)
import protocol  # noqa: E402
from confine import confine  # noqa: E402
from spec import HOST, Limits, NotebookJob, SessionSetup, ZygoteSpec  # noqa: E402

PACKAGE = "course_lib"
GIVEN_PRELOAD = ("solver", "gradcheck")
MAX_TRACEBACK = 4000
#: Host mode: where each tenant's task files are (read-only; ``INBOX/<uid>`` belongs to that uid).
INBOX = "/sandbox/inbox"
#: Host mode: the only writable file system; a tenant works in ``SCRATCH/tenant-<uid>`` (0700).
SCRATCH = "/tmp"
#: Seconds the reaper keeps killing a tenant's processes before it gives up (host reports dirty).
REAP_SECONDS = 5.0
#: keyctl(2) system call numbers, and the constants the reaper uses.
KEYCTL_SYSCALL = {"x86_64": 250, "aarch64": 219}
KEYCTL_CLEAR = 7
KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = -4, -5
#: The keyrings the kernel keeps for a uid after its last process (user and user-session).
KEYRINGS_OF_A_UID = 2


class Session:
    """Serves one session's requests on ``fd``; objects returned to the parent stay here."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.objects: dict[int, Any] = {}
        #: set when student code calls autograd during the current request (course rule)
        self.autograd = False

    def store(self, value: Any) -> int:
        self.objects[len(self.objects) + 1] = value
        return len(self.objects)

    def resolve(self, value: Any) -> Any:
        """Replace handles in decoded arguments by the objects they name."""
        if isinstance(value, protocol.Handle):
            return self.objects[value.id]
        if type(value) in (list, tuple):
            return type(value)(self.resolve(item) for item in value)
        if type(value) is dict:
            return {key: self.resolve(item) for key, item in value.items()}
        return value

    def target(self, request: dict[str, Any]) -> Any:
        """The object a request names: ``module`` + dotted ``attr``, or ``handle`` + ``attr``."""
        if "handle" in request:
            owner = self.objects[request["handle"]]
        else:
            owner = importlib.import_module(f"{PACKAGE}.{request['module']}")
        attr = request.get("attr") or ""
        for part in filter(None, attr.split(".")):
            owner = getattr(owner, part)
        return owner

    def handle(self, request: dict[str, Any], value: Any) -> Any:
        op = request.get("op")
        if op == "setup":
            install_stand_ins(self, SessionSetup.from_wire(value))
            return None
        if op == "notebook":  # the executed notebook travels as bytes (a uint8 tensor)
            import torch

            executed, problem = kernel.execute(NotebookJob.from_wire(value))
            return torch.frombuffer(bytearray(executed), dtype=torch.uint8), problem
        if op == "seed":
            import torch

            torch.manual_seed(int(value))
            return None
        if op == "keep":
            kept = self.resolve(value)
            return protocol.Handle(self.store(kept), type(kept).__qualname__)
        if op == "call":
            args, kwargs = self.resolve(value)
            result = self.target(request)(*args, **kwargs)
            if request.get("keep"):  # the result stays here (e.g. a non-contiguous view)
                return protocol.Handle(self.store(result), type(result).__qualname__)
            return result
        if op == "get":
            return self.target(request)
        if op == "set":
            owner_request = {**request, "attr": request["attr"].rpartition(".")[0]}
            setattr(self.target(owner_request), request["attr"].rpartition(".")[2], self.resolve(value))
            return None
        raise ValueError(f"unknown operation {op!r}")

    def serve(self) -> None:
        watch_autograd(self)
        while True:
            try:
                request, value = protocol.receive(self.fd)
            except EOFError:
                return
            self.autograd = False
            try:
                result = self.handle(request, value)
            except BaseException as error:
                flush_output()
                protocol.send(self.fd, {"kind": "error", **describe(error)})
                continue
            flush_output()
            reply = {"kind": "result"}
            if request.get("op") == "call" and (self.autograd or records_graph(result)):
                reply["autograd"] = True
            protocol.send(self.fd, reply, result, store_object=self.store)

    def callback(self, target: str, args: tuple, kwargs: dict) -> Any:
        """Ask the parent to run ``target`` of the reference implementation."""
        protocol.send(self.fd, {"kind": "callback", "target": target}, (list(args), kwargs), self.store)
        reply, value = protocol.receive(self.fd)
        if reply.get("kind") != "result":
            raise RuntimeError(
                f"your code passed {describe_values(args)} to {target}, the reference version used while "
                f"this task is graded, which cannot use it: {reply.get('message', '')}"
            )
        return value


def watch_autograd(session: Session) -> None:
    """Note in ``session.autograd`` every call of backward / autograd.grad (the course forbids
    autograd in student code; the grader turns the note into a failed check)."""
    import torch

    def watched(owner: Any, name: str) -> None:
        original = getattr(owner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            session.autograd = True
            return original(*args, **kwargs)

        setattr(owner, name, call)

    watched(torch.Tensor, "backward")
    watched(torch.autograd, "backward")
    watched(torch.autograd, "grad")


def records_graph(value: Any) -> bool:
    """True if a tensor in ``value`` (tuples, lists, dict values) requires grad."""
    import torch

    if type(value) is torch.Tensor:
        return value.requires_grad
    if type(value) in (tuple, list):
        return any(records_graph(item) for item in value)
    if type(value) is dict:
        return any(records_graph(item) for item in value.values())
    return False


def describe_values(values: tuple) -> str:
    """Short types of call arguments for messages, e.g. '(a tensor (4, 5) float64, a str)'."""
    import torch

    def one(value: Any) -> str:
        if isinstance(value, torch.Tensor):
            return f"a tensor {tuple(value.shape)} {str(value.dtype).removeprefix('torch.')}"
        return f"a {type(value).__name__}"

    return "(" + ", ".join(one(value) for value in values[:4]) + (", ...)" if len(values) > 4 else ")")


def describe(error: BaseException) -> dict[str, str]:
    """Type, message and a bounded traceback of an exception raised by student code."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return {
        "type": type(error).__name__,
        "message": str(error)[:2000],
        "traceback": text[-MAX_TRACEBACK:],
    }


def flush_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def install_stand_ins(session: Session, setup: SessionSetup) -> None:
    """Install the stand-ins of ``setup`` (see :class:`spec.SessionSetup`) before the student's
    modules are imported."""
    if setup.lib is not None:
        importlib.import_module(PACKAGE).__path__ = [os.path.join(setup.lib, PACKAGE)]
    for module, names in setup.proxies.items():
        proxy = types.ModuleType(f"{PACKAGE}.{module}")
        for name in names:
            owner_name, _, method = name.rpartition(".")
            function = forwarding_function(session, f"{module}.{name}")
            if owner_name:
                owner = proxy.__dict__.setdefault(owner_name, type(owner_name, (), {}))
                setattr(owner, method, staticmethod(function))
            else:
                setattr(proxy, name, function)
        sys.modules[proxy.__name__] = proxy
        setattr(sys.modules[PACKAGE], module, proxy)
    for qualified in setup.recorders:
        module, _, name = qualified.rpartition(".")
        setattr(importlib.import_module(f"{PACKAGE}.{module}"), name, type(name, (Recorder,), {}))
    for module, names in setup.patches.items():
        loaded = importlib.import_module(f"{PACKAGE}.{module}")
        for owner_name in {name.partition(".")[0] for name in names}:
            methods = [name.partition(".")[2] for name in names if name.partition(".")[0] == owner_name]
            members = {
                m: staticmethod(forwarding_function(session, f"{module}.{owner_name}.{m}")) for m in methods
            }
            setattr(loaded, owner_name, type(owner_name, (), members))


def forwarding_function(session: Session, target: str) -> Any:
    def forward(*args: Any, **kwargs: Any) -> Any:
        return session.callback(target, args, kwargs)

    forward.__qualname__ = target
    return forward


class Recorder:
    """Stand-in for a model class: remembers how it was constructed, does nothing else."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = list(args)
        self.kwargs = kwargs
        self.params: dict[str, Any] = {}


def run_session(control: socket.socket, reap: bool = False) -> bool:
    """Receive one session's sockets and fork a child to serve it; False when told to stop.

    ``reap``: after the session, SIGKILL every other process this uid may signal. Only safe in
    a PID namespace of our own, where kill(-1) reaches nothing but this sandbox's processes.
    """
    try:
        message, fds, _, _ = socket.recv_fds(control, 1024, 2)
    except OSError:
        return False
    if not message or len(fds) != 2:
        return False
    session_fd, output_fd = fds
    pid = os.fork()
    if pid == 0:
        control.close()
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(output_fd)
        try:
            Session(session_fd).serve()
        finally:
            flush_output()
            os._exit(0)
    os.close(session_fd)
    os.close(output_fd)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if reap:  # orphans of the session must not outlive it (or eat the next session's rlimits)
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
    control.sendall(code.to_bytes(4, "big", signed=True))
    return True


def warm_up(preload: tuple[str, ...]) -> None:
    """Import torch, the given modules and ``preload``, so every fork starts warm (a module of
    ``preload`` that is not installed is skipped: what needs it fails visibly later)."""
    sys.dont_write_bytecode = True
    import torch

    torch.set_num_threads(1)
    importlib.import_module(PACKAGE)
    for module in GIVEN_PRELOAD:
        importlib.import_module(f"{PACKAGE}.{module}")
    for module in preload:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


# -- host mode --------------------------------------------------------------------------------
def serve_tenants(control: socket.socket, limits: Limits) -> None:
    """The host zygote's loop: ``tenant <uid>`` (with the tenant's control socket) starts one;
    ``end`` removes it and answers ``clean`` or ``dirty``. Returns when the grader hangs up."""
    tenant: tuple[int, int] | None = None  # (pid, uid)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 64, 1)
        except OSError:
            return
        words = message.decode(errors="replace").split()
        if (
            words[:1] == ["tenant"]
            and len(words) == 2
            and words[1].isdigit()
            and len(fds) == 1
            and tenant is None
        ):
            uid = int(words[1])
            tenant = (start_tenant(control, fds[0], uid, limits), uid)
            os.close(fds[0])
        elif words == ["end"] and tenant is not None and not fds:
            control.sendall(b"clean\n" if end_tenant(*tenant) else b"dirty\n")
            tenant = None
        else:
            for fd in fds:
                os.close(fd)
            return  # not a message the grader sends: stop (the grader restarts the sandbox)


def start_tenant(control: socket.socket, tenant_fd: int, uid: int, limits: Limits) -> int:
    """Fork the tenant: the zygote of one submission's sessions, running as ``uid``."""
    pid = os.fork()
    if pid:
        return pid
    try:
        control.close()
        confine(limits, uid)  # irrevocable: no capabilities from here on
        os.umask(0o077)
        home = os.path.join(SCRATCH, f"tenant-{uid}")
        os.mkdir(home, 0o700)
        os.chdir(home)
        os.environ.update(HOME=home, TMPDIR=home, MPLCONFIGDIR=os.path.join(home, "matplotlib"))
        # The first session to import a task file leaves its bytecode here for the next ones
        # (this tenant's own folder: a session can only ever affect its own submission).
        sys.pycache_prefix = os.path.join(home, "pycache")
        sys.dont_write_bytecode = False
        importlib.import_module(PACKAGE).__path__ = [os.path.join(INBOX, str(uid), PACKAGE)]
        tenant = socket.socket(fileno=tenant_fd)
        tenant.sendall(b"ready\n")
        while run_session(tenant, reap=True):
            pass
    finally:
        flush_output()
        os._exit(0)


def end_tenant(pid: int, uid: int) -> bool:
    """Kill everything the tenant left and remove its traces; True when none remain."""
    reaper = os.fork()
    if reaper == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            clean = kill_all_of_my_uid(uid) and remove_ipc(uid) and wipe_scratch()
            clear_keyrings()  # tenants cannot call keyctl (confine's seccomp filter): a key is dirt
            code = 0 if clean else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(reaper, 0)
    clean = os.waitstatus_to_exitcode(status) == 0
    deadline = time.monotonic() + REAP_SECONDS
    while os.waitpid(pid, os.WNOHANG) == (0, 0):  # killed by the reaper; collect it
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return clean and no_keys_left(uid)  # a zombie still holds its keys: counted once collected


def kill_all_of_my_uid(uid: int) -> bool:
    """SIGKILL every other process of this uid until none is alive (zombies excepted)."""
    deadline = time.monotonic() + REAP_SECONDS
    while time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        if not any(pid != os.getpid() for pid in living_processes(uid)):
            return True
        time.sleep(0.001)
    return False


def living_processes(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:  # exited meanwhile
            continue
        if int(fields["Uid"].split()[0]) == uid and not fields["State"].strip().startswith(("Z", "X")):
            found.append(int(entry))
    return found


def remove_ipc(uid: int) -> bool:
    """Remove the System V shared memory, semaphores and message queues this uid created or
    owns; True when the sandbox's IPC namespace is then empty (it belongs to tenants only)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    remove = {"shm": libc.shmctl, "sem": lambda i, c, _: libc.semctl(i, 0, c), "msg": libc.msgctl}
    ipc_rmid = 0
    empty = True
    for kind, control in remove.items():
        for row in ipc_rows(kind):
            if uid in (int(row["uid"]), int(row["cuid"])):
                control(int(row[ipc_id_column(kind)]), ipc_rmid, None)
        empty = empty and not ipc_rows(kind)
    return empty


def clear_keyrings() -> None:
    """Empty this uid's user and user-session keyrings: the kernel keeps them after the uid's
    last process is gone. (The C library has no keyctl wrapper: raw system call numbers.)"""
    number = KEYCTL_SYSCALL.get(os.uname().machine)
    if number is None:
        return
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    for keyring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
        libc.syscall(number, KEYCTL_CLEAR, keyring)


def no_keys_left(uid: int) -> bool:
    """True once the kernel holds no key of ``uid`` but its user and user-session keyrings (the
    tenant's own session keyring goes when its last process has gone: allow for the kernel's
    garbage collector)."""
    deadline = time.monotonic() + REAP_SECONDS
    while keys_of(uid) > KEYRINGS_OF_A_UID:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def keys_of(uid: int) -> int:
    """Keys (keyrings included) the kernel counts for ``uid`` in /proc/key-users."""
    with contextlib.suppress(OSError), open("/proc/key-users") as handle:
        for line in handle:
            fields = line.split()
            if fields and fields[0] == f"{uid}:":
                return int(fields[2].split("/")[0])
    return 0


def ipc_id_column(kind: str) -> str:
    return {"shm": "shmid", "sem": "semid", "msg": "msqid"}[kind]


def ipc_rows(kind: str) -> list[dict[str, str]]:
    try:
        with open(f"/proc/sysvipc/{kind}") as handle:
            header, *rows = [line.split() for line in handle]
    except (OSError, ValueError):
        return []
    return [dict(zip(header, row, strict=False)) for row in rows]


def wipe_scratch() -> bool:
    """Delete everything a tenant wrote to the scratch file system; True if nothing is left.

    Root-owned entries are bubblewrap's own (the folders above a runtime mounted under /tmp,
    made 0755): tenants cannot create or write them. Trees too deep or too odd to delete are
    left, and the host reports dirty (then restarts)."""
    for entry in os.listdir(SCRATCH):
        path = os.path.join(SCRATCH, entry)
        with contextlib.suppress(OSError, RecursionError):
            if os.lstat(path).st_uid != 0:
                force_remove(path)
    return all(os.lstat(os.path.join(SCRATCH, entry)).st_uid == 0 for entry in os.listdir(SCRATCH))


def force_remove(path: str) -> None:
    """Remove ``path``, first making this uid's directories (even mode 000 ones) accessible."""
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, 0o700)
        for entry in os.listdir(path):
            force_remove(os.path.join(path, entry))
        os.rmdir(path)
    else:
        os.unlink(path)


def main() -> None:
    zygote = ZygoteSpec.from_json(sys.argv[1])
    sys.path.insert(0, zygote.lib_dir)
    control = socket.socket(fileno=zygote.control_fd)
    if zygote.mode == HOST:  # stays privileged (CAP_SETUID/SETGID only); tenants confine themselves
        warm_up(zygote.preload)
        control.sendall(b"ready\n")
        serve_tenants(control, zygote.limits)
        return
    confine(zygote.limits, zygote.uid)
    warm_up(zygote.preload)
    control.sendall(b"ready\n")
    while run_session(control, reap=zygote.own_pid_namespace):
        pass


if __name__ == "__main__":
    main()
