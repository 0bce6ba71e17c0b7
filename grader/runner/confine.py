"""Irrevocably confine the current process: unprivileged uid, hard rlimits. Standard library only.

Imported by the scripts that run inside the sandbox (child.py, run_notebook.py) before they load
any student code.
"""

from __future__ import annotations

import json
import os
import resource


def confine(limits_json: str, uid: str) -> None:
    """Switch to ``uid`` (when non-empty; needs CAP_SETUID) and set soft = hard rlimits."""
    limits = json.loads(limits_json)
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
    ):
        resource.setrlimit(getattr(resource, name), (value, value))
