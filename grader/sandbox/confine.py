"""Irrevocably confine the current process: unprivileged uid, hard rlimits, a session keyring of
its own and no kernel key system calls. Standard library only.

Imported by the script that runs inside the sandbox (child.py) before it loads any student code.

Kernel keys are state that outlives processes and is shared across uids (a named keyring that
grants "other" search can be joined by any uid; a uid's persistent keyring lives for days; the
session keyring is inherited from whoever started the grader). Student code has no use for them,
so after its own fresh session keyring is joined, ``add_key``, ``request_key`` and ``keyctl``
fail with EPERM through a seccomp filter (x86_64 and aarch64; the filter also refuses every
system call of another ABI, such as i386 or x32 on x86_64, which could bypass it).
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import struct
from typing import Any

#: Per machine: (AUDIT_ARCH_* of its native system calls, {name: number}).
KEY_SYSCALLS = {
    "x86_64": (0xC000003E, {"add_key": 248, "request_key": 249, "keyctl": 250}),
    "aarch64": (0xC00000B7, {"add_key": 217, "request_key": 218, "keyctl": 219}),
}
KEYCTL_JOIN_SESSION_KEYRING = 1
X32_SYSCALL_BIT = 0x40000000
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
#: Classic BPF opcodes: load word at absolute offset, jump if equal / greater or equal, return.
BPF_LD_W_ABS, BPF_JEQ_K, BPF_JGE_K, BPF_RET_K = 0x20, 0x15, 0x35, 0x06
#: Offsets in struct seccomp_data.
SECCOMP_DATA_NR, SECCOMP_DATA_ARCH = 0, 4


def confine(limits: Any, uid: int | None) -> None:
    """Switch to ``uid`` (unless None; needs CAP_SETUID), take kernel keys away
    (:func:`isolate_keys`) and set soft = hard rlimits.

    Also volunteers this process and its descendants as the kernel OOM killer's first victims:
    rlimits bound each process, not a whole sandbox (up to ``processes`` x ``address_space``), so
    if a sandbox ever exhausts the host's memory, it and not the grader is what gets killed.
    """
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
    except OSError:  # no /proc (or an older kernel): the rlimits below still apply
        pass
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    isolate_keys(required=uid is not None)
    for name, value in (
        ("RLIMIT_CPU", limits.cpu_seconds),
        ("RLIMIT_AS", limits.address_space_bytes),
        ("RLIMIT_NPROC", limits.processes),
        ("RLIMIT_FSIZE", limits.file_size_bytes),
        ("RLIMIT_NOFILE", limits.open_files),
        ("RLIMIT_CORE", 0),
        ("RLIMIT_MSGQUEUE", 0),  # no POSIX message queues: they could outlive the process
    ):
        resource.setrlimit(getattr(resource, name), (value, value))


def isolate_keys(required: bool) -> None:
    """Join a new anonymous session keyring (owned by this uid, shared with no one), then make
    every key system call fail with EPERM. ``required`` (the grader's sandbox, where tenants
    share a kernel): raises OSError when the filter cannot be installed on a machine that should
    support it, so no student code runs with keyctl open. Otherwise (a student's own checks,
    maybe on a kernel without seccomp) it is best effort."""
    machine = os.uname().machine
    if machine not in KEY_SYSCALLS:
        return  # no filter for this architecture: the host's audit still counts keys
    arch, numbers = KEY_SYSCALLS[machine]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    # A kernel without keyrings (ENOSYS) has nothing to share; any other refusal is tolerated
    # too, because the filter below takes keys away altogether.
    libc.syscall(ctypes.c_long(numbers["keyctl"]), ctypes.c_long(KEYCTL_JOIN_SESSION_KEYRING), None)
    program = _key_filter(arch, sorted(numbers.values()), deny_x32=machine == "x86_64")
    filters = ctypes.create_string_buffer(program)
    fprog = ctypes.create_string_buffer(struct.pack("HxxxxxxP", len(program) // 8, ctypes.addressof(filters)))
    for option, argument, pointer in (
        (PR_SET_NO_NEW_PRIVS, 1, None),
        (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog)),
    ):
        if libc.prctl(option, ctypes.c_ulong(argument), ctypes.c_void_p(pointer), 0, 0) != 0:
            code = ctypes.get_errno()
            if not required:
                return
            raise OSError(code, f"cannot block kernel key system calls: {os.strerror(code)}")


def _key_filter(arch: int, numbers: list[int], deny_x32: bool) -> bytes:
    """A seccomp BPF program: EPERM for ``numbers`` and for any other ABI than ``arch`` (and, on
    x86_64, for x32 system calls), allow everything else."""
    deny = SECCOMP_RET_ERRNO | errno.EPERM

    def op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
        return struct.pack("HBBI", code, jt, jf, k)

    body = [op(BPF_LD_W_ABS, SECCOMP_DATA_NR)]
    if deny_x32:
        body.append(op(BPF_JGE_K, X32_SYSCALL_BIT, jt=len(numbers) + 1))
    for position, number in enumerate(numbers):
        body.append(op(BPF_JEQ_K, number, jt=len(numbers) - position))
    body += [op(BPF_RET_K, SECCOMP_RET_ALLOW), op(BPF_RET_K, deny)]
    head = [
        op(BPF_LD_W_ABS, SECCOMP_DATA_ARCH),
        op(BPF_JEQ_K, arch, jt=1),  # native: go on to the numbers
        op(BPF_RET_K, deny),
    ]
    return b"".join(head + body)
