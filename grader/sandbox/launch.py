"""How the child process is started: inside bubblewrap, or (loudly weaker) without it.

Inside the sandbox the child sees, read-only, only the Python runtime, the shared libraries,
``grader/sandbox`` (this protocol code, no checks, no references) and the submission's
``course_lib``; a private, size-limited ``/tmp`` is its only writable place. It has no network, its own PID,
IPC and UTS namespaces, no capabilities once it has switched to an unprivileged uid, and
rlimits on CPU time, address space, processes, file size and open files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import site
import socket
import stat
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox.spec import Limits, ZygoteSpec

RUNNER_DIR = Path(__file__).resolve().parent
SANDBOX_LIB = "/sandbox/lib"
SANDBOX_RUNNER = "/sandbox/runner"


@dataclass(frozen=True)
class SandboxPolicy:
    """What isolation to ask for; :func:`grader.sandbox.isolation.resolve` says what runs.

    ``use_bwrap=False`` asks for no sandbox (rlimits only). With ``use_bwrap`` and no usable
    bubblewrap, grading refuses to start unless ``allow_unsandboxed``."""

    use_bwrap: bool = True
    allow_unsandboxed: bool = False
    limits: Limits = field(default_factory=Limits)
    #: Grade submissions in turn in one long-lived sandbox per grading process, each under its
    #: own uid (:mod:`grader.sandbox.host`; root only), instead of one new sandbox each.
    warm: bool = True
    #: Modules the sandbox host imports once besides torch and the given modules (bubblewrap-host
    #: only), e.g. :data:`grader.sandbox.spec.NOTEBOOK_PRELOAD` when it will execute notebooks.
    preload: tuple[str, ...] = ()


class SandboxUnavailable(RuntimeError):
    """bubblewrap is required but missing or unusable."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def bwrap_usable() -> bool:
    """bubblewrap is installed and can build this sandbox here (containers often forbid the
    namespaces it needs)."""
    if bwrap_path() is None:
        return False
    try:
        probe = subprocess.run([*bwrap_prefix([]), "/bin/true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def sandbox_uid() -> int | None:
    """An unprivileged uid for this grading process's sandboxes (unique per live grader process).

    Only root can switch uid; RLIMIT_NPROC is not enforced for root, so the switch is what makes
    the process limit real. Returns None when not root.
    """
    return sandbox_uid_of(os.getpid()) if os.geteuid() == 0 else None


def sandbox_uid_of(grader_pid: int) -> int:
    return 200_000 + grader_pid


def _runtime_paths() -> list[str]:
    """Directories the Python runtime and its packages need (deduplicated, outside /usr)."""
    candidates = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
        *site.getsitepackages(),
        str(Path(sys.executable).resolve().parent.parent),
    }
    kept: list[str] = []
    for path in sorted(candidates, key=len):
        real = os.path.realpath(path)
        if not os.path.isdir(real) or real.startswith("/usr/"):
            continue
        if any(real == k or real.startswith(k + "/") for k in kept):
            continue
        kept.append(real)
    return kept


def _masked_paths() -> list[str]:
    """Installed copies of this project that must stay invisible inside the sandbox."""
    masked = []
    for packages in {*site.getsitepackages(), sysconfig.get_paths()["purelib"]}:
        for name in ("grader", "solutions"):
            candidate = Path(packages) / name
            if candidate.is_dir() and candidate.resolve() != RUNNER_DIR.parent.resolve():
                masked.append(str(candidate))
    return masked


def _ancestors(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


@dataclass(frozen=True)
class Mount:
    """A host path made visible at ``target`` inside the sandbox (read-only unless ``writable``),
    or, with ``tmpfs_bytes``, an empty scratch tmpfs of that size that everyone may write."""

    source: Path
    target: str
    writable: bool = False
    tmpfs_bytes: int | None = None


def bwrap_prefix(
    mounts: list[Mount], workdir: str = "/tmp", scratch_bytes: int = Limits.scratch_bytes
) -> list[str]:
    """bubblewrap options for the isolation described in the module docstring, up to the command."""
    binary = bwrap_path()
    if binary is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed")
    argv = [
        binary,
        "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
        "--perms", "0755", "--dir", "/etc",  # else 0700: the unprivileged uid could not enter it
        "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
        "--ro-bind-try", "/etc/fonts", "/etc/fonts",  # fontconfig's configuration (matplotlib)
        "--proc", "/proc", "--dev", "/dev",
        "--perms", "1777", "--size", str(scratch_bytes), "--tmpfs", "/tmp",
    ]  # fmt: skip
    created: set[str] = {"/usr", "/tmp", "/etc"}
    all_mounts = [Mount(Path(p), p) for p in _runtime_paths()] + [Mount(RUNNER_DIR, SANDBOX_RUNNER), *mounts]
    for mount in all_mounts:
        for ancestor in _ancestors(mount.target):
            if ancestor not in created:
                argv += ["--perms", "0755", "--dir", ancestor]
                created.add(ancestor)
        if mount.tmpfs_bytes is not None:
            argv += ["--perms", "1777", "--size", str(mount.tmpfs_bytes), "--tmpfs", mount.target]
        else:
            argv += ["--bind" if mount.writable else "--ro-bind", str(mount.source), mount.target]
        created.add(mount.target)
    for path in _masked_paths():
        argv += ["--tmpfs", path]
    argv += ["--chdir", workdir, "--clearenv"]
    for name, value in child_environment().items():
        argv += ["--setenv", name, value]
    argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return argv


def zygote_command(spec: ZygoteSpec, mounts: list[Mount] | None, scratch_bytes: int) -> list[str]:
    """The command that starts ``child.py`` with ``spec``: inside bubblewrap with ``mounts``
    (``spec`` names paths as the sandbox sees them), or, ``mounts`` None, as a plain process."""
    if mounts is None:
        return [sys.executable, "-I", str(RUNNER_DIR / "child.py"), spec.to_json()]
    prefix = bwrap_prefix(mounts, scratch_bytes=scratch_bytes)
    return [*prefix, sys.executable, "-I", f"{SANDBOX_RUNNER}/child.py", spec.to_json()]


def _open_to_others(path: Path) -> bool:
    """Every folder from / down to ``path`` may be entered by any user."""
    return all(os.stat(folder).st_mode & stat.S_IXOTH for folder in [*reversed(path.parents), path])


def local_uid() -> int | None:
    """The uid of a child without bubblewrap: unprivileged when the grader is root and
    everything the child imports (this interpreter's ``sys.path``, the runner) is open to other
    users; None otherwise, and the child keeps the grader's uid (e.g. a Python installed under
    a 0700 home: the child could not import the standard library)."""
    uid = sandbox_uid()
    if uid is None:
        return None
    needed = [RUNNER_DIR, *(Path(p) for p in sys.path if p and os.path.isdir(p))]
    return uid if all(_open_to_others(p.resolve()) for p in needed) else None


#: Variables passed from the grader's environment to the child when set: the child must run
#: the same float kernels as the grader (seeded draws are compared with what the grader draws).
PASSED_THROUGH = ("ATEN_CPU_CAPABILITY",)


def child_environment() -> dict[str, str]:
    """The child's whole environment: nothing of the grader's own environment leaks in but
    :data:`PASSED_THROUGH`."""
    passed = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    return passed | {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter",
        "IPYTHONDIR": "/tmp/ipython",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def spawn_zygote(command: list[str], control_fd: int, folder: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` (a zygote that talks on ``control_fd``) in its own session, with the
    child environment and ``folder`` as working directory. Its own stderr (sessions have their
    pipes) goes to ``folder/stderr``: a pipe nobody drains would block it once full."""
    with open(folder / "stderr", "wb") as stderr:
        return subprocess.Popen(
            command,
            pass_fds=(control_fd,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=folder,
            env=child_environment(),
            start_new_session=True,
        )


def stderr_tail(folder: Path) -> str:
    """The end of what a zygote started by :func:`spawn_zygote` wrote to its stderr."""
    with contextlib.suppress(OSError):
        return (folder / "stderr").read_bytes()[-2000:].decode(errors="replace").strip()
    return ""


def await_ready(sock: socket.socket, timeout: float) -> bool:
    """The process at the other end of ``sock`` said ``ready`` within ``timeout`` seconds."""
    sock.settimeout(timeout)
    try:
        return sock.recv(6) == b"ready\n"
    except OSError:
        return False


def kill_group(process: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL ``process`` (started in a session of its own) and every process of that session."""
    if process is not None and process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
