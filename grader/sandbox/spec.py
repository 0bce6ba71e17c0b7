"""Typed descriptions shared by the grader and the process running student code.

This file is bind-mounted into the sandbox and imported there as a plain module (``import spec``),
so it uses the standard library only. Two things cross the boundary:

- :class:`ZygoteSpec`: how ``child.py`` starts (its only command-line argument, as JSON);
- :class:`SessionSetup`: the stand-ins a fresh session installs before the student's modules
  are imported (sent as the value of the session's first request).

Both are built by the grader and parsed back by ``from_json`` / ``from_wire``, which accept
exactly the fields declared here and nothing else.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Resource limits applied to the child before any student code runs."""

    cpu_seconds: int = 120
    address_space_bytes: int = 6 * 1024**3
    processes: int = 64
    file_size_bytes: int = 64 * 1024**2
    open_files: int = 256
    #: Size of every writable file system inside the sandbox (/tmp, the notebook's folder). They
    #: are tmpfs: memory that RLIMIT_AS does not count, or (unbounded) the host's disk.
    scratch_bytes: int = 512 * 1024**2


#: What an IPython kernel imports anyway, and what the course's notebooks import (scikit-learn's
#: digits): a zygote that preloads them forks kernels that start at once (:mod:`kernel`).
NOTEBOOK_PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "matplotlib_inline.backend_inline",
    "matplotlib.pyplot",
    "nbclient",
    "nbformat",
    "jupyter_client.asynchronous",
    "sklearn.datasets",
)

#: What a zygote serves: submissions' sessions itself, or (host mode) tenants, each of which
#: serves one submission's sessions (:mod:`grader.sandbox.host`).
ZYGOTE, HOST = "zygote", "host"


@dataclass(frozen=True)
class ZygoteSpec:
    """Everything ``child.py`` needs to start: ``python -I child.py '<ZygoteSpec as JSON>'``."""

    #: The folder holding ``course_lib/`` (as the child sees it).
    lib_dir: str
    #: The inherited socket on which the zygote talks to the grader.
    control_fd: int
    limits: Limits
    #: The unprivileged uid the zygote switches to before any student code runs (None: keep
    #: the grader's; host mode: each tenant gets its own instead).
    uid: int | None = None
    mode: str = ZYGOTE
    #: The zygote is alone in its PID namespace (bubblewrap): after each session it may kill
    #: every process its uid can signal, the session's leftovers.
    own_pid_namespace: bool = False
    #: Modules imported once in the zygote besides torch and the given ones, so every fork finds
    #: them loaded (e.g. what notebook execution needs).
    preload: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ZygoteSpec:
        data = _exact_fields(cls, json.loads(text))
        limits = _exact_fields(Limits, data["limits"])
        return cls(**{**data, "limits": Limits(**limits), "preload": tuple(data["preload"])})


@dataclass(frozen=True)
class SessionSetup:
    """Stand-ins a session installs before the student's modules are imported.

    ``proxies``: {module: [qualified names]}: the module is replaced by one whose functions
    forward to the grader's reference implementation. ``patches``: {module: ["Class.method",
    ...]}: after the student's module is imported, each named class in it is replaced by one
    whose methods forward to the reference (``Linear_ReLU`` graded on the reference ``Linear``).
    ``recorders``: ["module.Class"]: the class only records its constructor arguments.
    ``lib``: a folder holding another ``course_lib`` whose task modules this session imports
    (local runs only: lets one warm zygote serve many submissions).
    """

    proxies: dict[str, list[str]] = field(default_factory=dict)
    patches: dict[str, list[str]] = field(default_factory=dict)
    recorders: list[str] = field(default_factory=list)
    lib: str | None = None

    def callback_targets(self) -> frozenset[str]:
        """Reference functions the session may call back: exactly those its stand-ins forward to."""
        stand_ins = [*self.proxies.items(), *self.patches.items()]
        return frozenset(f"{module}.{name}" for module, names in stand_ins for name in names)

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_wire(cls, value: Any) -> SessionSetup:
        return cls(**_exact_fields(cls, value))


def _exact_fields(cls: type, data: Any) -> dict[str, Any]:
    """``data`` as keyword arguments of dataclass ``cls``: a dict with exactly its field names."""
    names = {f.name for f in fields(cls)}
    if not isinstance(data, dict) or set(data) != names:
        raise ValueError(f"not a {cls.__name__}: {sorted(data) if isinstance(data, dict) else type(data)}")
    return data


@dataclass(frozen=True)
class NotebookJob:
    """A notebook for a session to execute (:mod:`grader.sandbox.kernel`)."""

    #: The notebook, as nbformat JSON.
    notebook: str
    #: The assignment folder the notebook runs in (``assignments/<assignment>/``).
    assignment: str
    #: Seconds each cell may run.
    cell_timeout: int

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_wire(cls, value: Any) -> NotebookJob:
        return cls(**_exact_fields(cls, value))
