"""Round 2 red-team payloads against the grading engine (issue 11, items 1, 4 and 5).

Same conventions as :mod:`tests.attacks.payloads`: self-contained top-level functions whose
source is copied into a student module; the helpers they name (imported below from
:mod:`tests.attacks.payloads`) are copied along.
"""

from __future__ import annotations

from typing import Any

from tests.attacks.payloads import _frame, _garbage, _once, _report, _send_raw

PARAMS: dict[str, Any] = {}


def stash_across_tasks(args):
    """Remember every input of every call (in the sandbox's /tmp) and show the earlier ones in
    this call's message. A task's hidden inputs reach a later task's public message unless every
    hidden check runs after every public one."""
    import os

    path = "/tmp/.stash-across-tasks"
    seen = ""
    if os.path.exists(path):
        with open(path) as handle:
            seen = handle.read()
    values = [v.double().reshape(-1)[:50].tolist() for v in args.values() if hasattr(v, "double")]
    with open(path, "a") as handle:
        handle.write(" ".join(float(x).hex() for value in values for x in value) + "\n")
    raise ValueError("STASH2 " + seen.replace("\n", " ")[-1900:])


def decode_alias_bomb(args):
    """Once: answer with a frame whose value names one 8 MB tensor 400 times (3.2 GB if the
    grader copies it per reference); garbage otherwise."""
    import json
    import os

    if not _once(args):
        return _garbage(args)
    blob = b"\0" * (8 << 20)
    header = {
        "kind": "result",
        "value": {"$tuple": [{"$tensor": 0}] * 400},
        "tensors": [{"dtype": "float64", "shape": [1 << 20], "offset": 0, "nbytes": len(blob)}],
    }
    _send_raw(_frame(json.dumps(header).encode(), blob))
    os._exit(0)


def reference_cpu_burn(args):
    """Once per sandbox: ask the reference Linear.forward (a callback into the grader) for an
    8000x8000 by 8000x8000 int8 product (128 MB of input, ~15 s of CPU), and report how long the
    grader took and what it said."""
    import os
    import time

    import torch

    from course_lib.layers import Linear

    flag = "/tmp/.reference-cpu-burn"
    if os.path.exists(flag):
        raise ValueError("CPUPROBE already fired")
    open(flag, "w").close()
    x = torch.ones(8000, 8000, dtype=torch.int8)
    start = time.monotonic()
    try:
        out, _ = Linear.forward(x, x, torch.zeros(8000, dtype=torch.int8))
        outcome = f"got {tuple(out.shape)}"
    except Exception as error:
        outcome = f"{type(error).__name__}: {str(error)[:300]}"
    _report("CPUPROBE", [f"{time.monotonic() - start:.1f} s", outcome])
