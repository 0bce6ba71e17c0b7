"""Irrevocably confine the current process: unprivileged uid, hard rlimits. Standard library only.

Imported by the scripts that run inside the sandbox (child.py, run_notebook.py) before they load
any student code.
"""

from __future__ import annotations

import json
import os
import resource


def confine(limits_json: str, uid: str) -> None:
    """Switch to ``uid`` (when non-empty; needs CAP_SETUID) and set soft = hard rlimits.

    Also volunteers this process and its descendants as the kernel OOM killer's first victims:
    rlimits bound each process, not a whole sandbox (up to ``processes`` x ``address_space``), so
    if a sandbox ever exhausts the host's memory, it and not the grader is what gets killed.
    """
    limits = json.loads(limits_json)
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
    except OSError:  # no /proc (or an older kernel): the rlimits below still apply
        pass
    if uid:
        os.setgroups([])
        os.setgid(int(uid))
        os.setuid(int(uid))
    for name, value in (
        ("RLIMIT_CPU", limits["cpu_seconds"]),
        ("RLIMIT_AS", limits["address_space_bytes"]),
        ("RLIMIT_NPROC", limits["processes"]),
        ("RLIMIT_FSIZE", limits["file_size_bytes"]),
        ("RLIMIT_NOFILE", limits["open_files"]),
        ("RLIMIT_CORE", 0),
        ("RLIMIT_MSGQUEUE", 0),  # no POSIX message queues: they could outlive the process
    ):
        resource.setrlimit(getattr(resource, name), (value, value))
