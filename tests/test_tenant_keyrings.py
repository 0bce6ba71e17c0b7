"""Tenants of the warm sandbox host share no kernel keys.

Kernel keyrings outlive processes and cross uids: a named keyring that grants "other" search can
be joined by any uid, a uid's persistent keyring is kept for days, and the session keyring is
inherited from whoever started the grader. Tenant A plants a key readable by everyone in every
keyring it can reach; tenant B, in the same sandbox, must find none, and neither must the host
after both are gone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.checks.engine import assemble_lib
from grader.sandbox import child, host, launch
from grader.sandbox.launch import SandboxPolicy
from grader.sandbox.session import Sandbox
from tests.attacks import round2_surface
from tests.attacks.build import payload_code

pytestmark = pytest.mark.skipif(
    launch.bwrap_path() is None or os.geteuid() != 0 or os.uname().machine not in ("x86_64", "aarch64"),
    reason="tenants need bubblewrap and root (each gets its own uid); key system calls need x86_64/aarch64",
)

EPERM = 1


def _lib(tmp: Path, name: str) -> Path:
    tasks = tmp / f"{name}-tasks"
    tasks.mkdir()
    code = payload_code([round2_surface.plant_keys, round2_surface.find_keys], {})
    (tasks / "layers.py").write_text(code)
    lib = tmp / name
    assemble_lib(tasks, lib)
    return lib


def _tagged_keys_in_view() -> list[str]:
    """Lines of /proc/keys (as this root process sees them) that name the attack's keys."""
    return [line for line in Path("/proc/keys").read_text().splitlines() if round2_surface.KEY_TAG in line]


def test_a_later_tenant_finds_no_key_of_an_earlier_one(tmp_path: Path):
    policy = SandboxPolicy()
    with Sandbox(_lib(tmp_path, "first"), policy) as sandbox, sandbox.session() as session:
        placed = session.call("layers.plant_keys", timeout=20)
    shared = host.shared_host(policy.limits)
    zygote = shared.process.pid if shared.process else None
    uid_a = host.tenant_uid(os.getpid(), shared.admitted - 1)  # the tenant admitted last
    with Sandbox(_lib(tmp_path, "second"), policy) as sandbox, sandbox.session() as session:
        found = session.call("layers.find_keys", timeout=20)
    assert found == {}, f"a later tenant read keys an earlier one left: {found}"
    assert all(result == -EPERM for result in placed.values()), f"a tenant could add keys: {placed}"
    assert shared.process is not None and shared.process.pid == zygote, "the host was restarted"
    assert not _tagged_keys_in_view(), "keys of a tenant outlived it"
    assert child.keys_of(uid_a) <= child.KEYRINGS_OF_A_UID, "the first tenant's uid still owns keys"


def test_the_audit_counts_keys_left_by_a_uid(monkeypatch: pytest.MonkeyPatch):
    """The host's between-tenant audit: keys of the tenant's uid beyond its two keyrings are
    dirt (the host then restarts). Planted here outside any sandbox, where keyctl is open."""
    uid = 3_900_000 + os.getpid() % 100_000
    monkeypatch.setattr(child, "REAP_SECONDS", 0.2)
    assert child.no_keys_left(uid)
    _as_uid(uid, lambda: [round2_surface._add_key(f"audit-{n}", b"x", -4) for n in range(3)])
    try:
        assert not child.no_keys_left(uid)
    finally:
        _as_uid(uid, child.clear_keyrings)
    assert child.no_keys_left(uid)


def _as_uid(uid: int, action: Callable[[], object]) -> None:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            action()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
