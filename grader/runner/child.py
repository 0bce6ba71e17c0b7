"""The process that runs student code. Started by the grader, usually inside the sandbox.

Run as ``python child.py LIB_DIR CONTROL_FD LIMITS UID [own-pid-namespace]``. It imports torch
and the given modules of the ``course_lib`` found in LIB_DIR once, then serves as a fork server:
for every session the parent passes a fresh socket (and a pipe for the session's stdout/stderr)
over the control socket; a forked child serves requests on it until the parent closes it. The
zygote itself never runs student code, so a crashed or hanging session cannot poison the next
one. In its own PID namespace (bubblewrap) it also kills whatever the session left running
(double-forked, setsid orphans) before it reports the session's end.

Nothing in this process is trusted: the parent treats every byte it sends as the student's.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import socket
import sys
import traceback
import types
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import protocol  # noqa: E402  (standalone import: this file runs as a script)
from confine import confine  # noqa: E402

PACKAGE = "course_lib"
GIVEN_PRELOAD = ("solver", "gradcheck")
MAX_TRACEBACK = 4000


class Session:
    """Serves one session's requests on ``fd``; objects returned to the parent stay here."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.objects: dict[int, Any] = {}

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
            install_stand_ins(self, value)
            return None
        if op == "seed":
            import torch

            torch.manual_seed(int(value))
            return None
        if op == "keep":
            kept = self.resolve(value)
            return protocol.Handle(self.store(kept), type(kept).__qualname__)
        if op == "call":
            args, kwargs = self.resolve(value)
            return self.target(request)(*args, **kwargs)
        if op == "get":
            return self.target(request)
        if op == "set":
            owner_request = {**request, "attr": request["attr"].rpartition(".")[0]}
            setattr(self.target(owner_request), request["attr"].rpartition(".")[2], self.resolve(value))
            return None
        raise ValueError(f"unknown operation {op!r}")

    def serve(self) -> None:
        while True:
            try:
                request, value = protocol.receive(self.fd)
            except EOFError:
                return
            try:
                result = self.handle(request, value)
            except BaseException as error:
                flush_output()
                protocol.send(self.fd, {"kind": "error", **describe(error)})
                continue
            flush_output()
            protocol.send(self.fd, {"kind": "result"}, result, store_object=self.store)

    def callback(self, target: str, args: tuple, kwargs: dict) -> Any:
        """Ask the parent to run ``target`` of the reference implementation."""
        protocol.send(self.fd, {"kind": "callback", "target": target}, (list(args), kwargs), self.store)
        reply, value = protocol.receive(self.fd)
        if reply.get("kind") != "result":
            raise RuntimeError(f"{target} (reference) failed: {reply.get('message', '')}")
        return value


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


def install_stand_ins(session: Session, spec: dict[str, Any]) -> None:
    """Install stand-ins before the student's modules are imported.

    ``spec["proxies"]``: {module: [qualified names]} — the module is replaced by one whose
    functions forward to the parent's reference implementation.
    ``spec["patches"]``: {module: ["Class.method", ...]} — after the student's module is
    imported, each named class in it is replaced by one whose methods forward to the reference
    (so ``Linear_ReLU`` is graded on top of the reference ``Linear`` and ``ReLU``).
    ``spec["recorders"]``: ["module.Class"] — the class is replaced by one that only records
    its constructor arguments (``args``, ``kwargs``) and has empty ``params``.
    ``spec["lib"]``: a folder holding another ``course_lib`` whose task modules this session
    imports (unsandboxed runs only: lets one warm zygote serve many submissions).
    """
    if "lib" in spec:
        importlib.import_module(PACKAGE).__path__ = [os.path.join(spec["lib"], PACKAGE)]
    for module, names in spec.get("proxies", {}).items():
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
    for qualified in spec.get("recorders", []):
        module, _, name = qualified.rpartition(".")
        setattr(importlib.import_module(f"{PACKAGE}.{module}"), name, type(name, (Recorder,), {}))
    for module, names in spec.get("patches", {}).items():
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


def main() -> None:
    lib_dir, control_fd, limits, uid = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    reap = sys.argv[5:6] == ["own-pid-namespace"]
    confine(limits, uid)
    sys.path.insert(0, lib_dir)
    sys.dont_write_bytecode = True
    import torch

    torch.set_num_threads(1)
    importlib.import_module(PACKAGE)
    for module in GIVEN_PRELOAD:
        importlib.import_module(f"{PACKAGE}.{module}")
    control = socket.socket(fileno=control_fd)
    control.sendall(b"ready\n")
    while run_session(control, reap):
        pass


if __name__ == "__main__":
    main()
