"""What isolation student code actually gets: decided in one place, recorded in every result.

A :class:`~grader.sandbox.launch.SandboxPolicy` says what is asked for; :func:`resolve` turns it
into what will run on this machine:

- ``bubblewrap-host``: one long-lived bubblewrap sandbox per grading process, each submission a
  tenant under a uid of its own (:mod:`grader.sandbox.host`; needs root);
- ``bubblewrap-per-submission``: a new bubblewrap sandbox for every submission;
- ``local-rlimits``: no bubblewrap, a plain child process with rlimits and a private folder (and
  an unprivileged uid when the grader is root and the runtime is open to other users,
  :func:`~grader.sandbox.launch.local_uid`). No file system or network isolation.

Asking for bubblewrap where it cannot run raises :class:`~grader.sandbox.launch.SandboxUnavailable`
unless the policy says ``allow_unsandboxed=True`` (then the fallback is logged as a warning);
``use_bwrap=False`` asks for ``local-rlimits`` explicitly.
"""

from __future__ import annotations

import enum
import functools
import logging
import os

from grader.sandbox import launch

log = logging.getLogger(__name__)


class Isolation(enum.Enum):
    """What runs student code. The value is what results and summaries record."""

    BWRAP_HOST = "bubblewrap-host"
    BWRAP_PER_SUBMISSION = "bubblewrap-per-submission"
    LOCAL = "local-rlimits"

    @property
    def sandboxed(self) -> bool:
        """Inside bubblewrap (file system, network, PID and IPC isolation)."""
        return self is not Isolation.LOCAL


@functools.cache
def bwrap_works() -> bool:
    """bubblewrap can build the sandbox on this machine (probed once per process)."""
    return launch.bwrap_usable()


_logged: set[tuple[Isolation, bool]] = set()


def resolve(policy: launch.SandboxPolicy) -> Isolation:
    """The isolation ``policy`` gets here; logged once per process and outcome."""
    if not policy.use_bwrap:
        isolation = Isolation.LOCAL
    elif bwrap_works():
        warm = policy.warm and os.geteuid() == 0  # tenants' own uids: only root can switch
        isolation = Isolation.BWRAP_HOST if warm else Isolation.BWRAP_PER_SUBMISSION
    elif policy.allow_unsandboxed:
        isolation = Isolation.LOCAL
    else:
        raise launch.SandboxUnavailable(
            "bubblewrap (bwrap) is not installed or cannot create namespaces here; refusing to run "
            "student code without it (SandboxPolicy(allow_unsandboxed=True) or use_bwrap=False to accept that)"
        )
    if (isolation, policy.use_bwrap) not in _logged:
        _logged.add((isolation, policy.use_bwrap))
        if isolation is Isolation.LOCAL and policy.use_bwrap:
            log.warning(
                "bubblewrap is unusable: student code runs WITHOUT file system and network isolation "
                "(%s: rlimits, a private folder%s)",
                isolation.value,
                ", an unprivileged uid" if launch.local_uid() is not None else "",
            )
        else:
            log.info("student code runs with isolation %s", isolation.value)
    return isolation
