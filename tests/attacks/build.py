"""From an :class:`Attack` to an upload the batch grader takes (a zip or a folder named by the id).

A submission tree starts as the released stubs (``course_lib/<task module>.py``) plus the released
notebook. An attack then

* keeps the reference solution's body for its ``honest`` tasks (what it legitimately earns),
* replaces the body of each task in ``tasks`` by a call to a payload from :mod:`payloads`,
* runs each payload of ``on_import`` when that module is imported,
* edits the notebook (``notebook``) and overrides raw files (``files``),
* and is uploaded as a zip (like ``python -m grader submit``), a folder, or by its own ``upload``.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import re
import textwrap
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import paths
from grader.release.stubs import find_regions, not_implemented_message
from tests.attacks import payloads, round2_surface

ASSIGNMENT = "a1_fully_connected"
Tree = dict[str, bytes]


@dataclass(frozen=True)
class Attack:
    """One red-team submission.

    ``name`` is also the student id. ``honest`` tasks are implemented correctly (the reference
    body), so the submission must score exactly their points. ``escapes``: host paths the attack
    tries to create (they must not exist afterwards). ``evidence``: regexes that must each match a
    check message or notebook output, proving the payload really ran (e.g. the probe's report).
    ``notebook(nb, params)`` returns the edited notebook (or raw bytes); ``notebook_batch``: graded
    in the batch that executes notebooks. ``unearned``: checks of honest tasks that the attack's
    code deserves to fail. ``known_weakness``: the attack is expected to beat the grader (a
    documented residual risk); its score test is a strict xfail until someone closes the gap.
    """

    name: str
    what: str
    honest: tuple[str, ...] = ()
    tasks: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    on_import: Mapping[str, Callable[[], Any]] = field(default_factory=dict)
    notebook: Callable[[dict[str, Any], Mapping[str, Any]], dict[str, Any] | bytes] | None = None
    files: Mapping[str, bytes | None] = field(default_factory=dict)
    upload: str | Callable[[Tree, Path], Path] = "zip"
    escapes: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    notebook_batch: bool = False
    unearned: tuple[str, ...] = ()
    known_weakness: str | None = None


def _helpers_of(source: str, done: set[str]) -> list[str]:
    """Sources of the other :mod:`payloads` (or :mod:`round2_surface`) functions that ``source``
    names (recursively)."""
    found = []
    for name in dict.fromkeys(re.findall(r"\b([a-z_][a-z0-9_]*)\b", source)):
        helper = getattr(payloads, name, None) or getattr(round2_surface, name, None)
        if helper is None or name in done or not inspect.isfunction(helper):
            continue
        done.add(name)
        text = inspect.getsource(helper)
        found += [*_helpers_of(text, done), text]
    return found


def payload_code(functions: list[Callable[..., Any]], params: Mapping[str, Any]) -> str:
    """The block appended to a student module: PARAMS, helpers, payload functions."""
    done: set[str] = set()
    blocks = [f"PARAMS = {dict(params)!r}\n"]
    for function in functions:
        if function.__name__ in done:
            continue
        done.add(function.__name__)
        text = inspect.getsource(function)
        blocks += [*_helpers_of(text, done), text]
    return "\n\n# ---- red-team payload ----\n" + "\n\n".join(textwrap.dedent(b) for b in blocks)


def module_source(module: str, attack: Attack, params: Mapping[str, Any]) -> str:
    """``course_lib/<module>.py`` of the attack: stubs, honest bodies, payload calls."""
    solution = (paths.SOLUTION_LIB / f"{module}.py").read_text()
    lines = solution.splitlines(keepends=True)
    out: list[str] = []
    position = 0
    used: list[Callable[..., Any]] = []
    for region in find_regions(solution):
        out.extend(lines[position : region.begin - 1])
        marker = lines[region.begin - 1]
        indent = marker[: len(marker) - len(marker.lstrip())]
        if region.task in attack.tasks:  # the payload, even where the task is also honest
            payload = attack.tasks[region.task]
            used.append(payload)
            out.append(f"{indent}return {payload.__name__}(dict(locals()))\n")
        elif region.task in attack.honest:
            out.extend(lines[region.begin : region.end - 1])
        else:
            out.append(
                f'{indent}raise NotImplementedError("{not_implemented_message(region.task, module)}")\n'
            )
        position = region.end
    out.extend(lines[position:])
    source = "".join(out)
    on_import = attack.on_import.get(module)
    if on_import is not None:
        used.append(on_import)
    if used:
        source += payload_code(used, params)
    if on_import is not None:
        source += f"\n\n{on_import.__name__}()\n"
    return source


def released_notebooks() -> dict[str, bytes]:
    """The student version of the assignment's notebooks ({relative path: bytes})."""
    folder = paths.ASSIGNMENTS / ASSIGNMENT
    return {f"assignments/{ASSIGNMENT}/{p.name}": p.read_bytes() for p in sorted(folder.glob("*.ipynb"))}


def tree_of(attack: Attack, params: Mapping[str, Any]) -> Tree:
    """Every file of the attack's submission, by path relative to the student's repository."""
    tree: Tree = {f"course_lib/{m}.py": module_source(m, attack, params).encode() for m in paths.TASK_MODULES}
    for path, data in released_notebooks().items():
        if attack.notebook is not None:
            edited = attack.notebook(copy.deepcopy(json.loads(data)), params)
            data = edited if isinstance(edited, bytes) else json.dumps(edited, indent=1).encode()
        tree[path] = data
    for path, data in attack.files.items():
        if data is None:
            tree.pop(path, None)
        else:
            tree[path] = data
    return tree


def write_zip(tree: Tree, target: Path, manifest: dict[str, Any] | None = None) -> Path:
    """A zip laid out like ``python -m grader submit`` output, with its manifest."""
    manifest = manifest or {
        "assignment": ASSIGNMENT,
        "timestamp": "2026-11-20T09:30:00+00:00",
        "files": {path: hashlib.sha256(data).hexdigest() for path, data in tree.items()},
    }
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for path, data in sorted(tree.items()):
            bundle.writestr(path, data)
        bundle.writestr("manifest.json", json.dumps(manifest, indent=2))
    return target


def write_folder(tree: Tree, target: Path) -> Path:
    for path, data in tree.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_bytes(data)
    return target


def make_upload(attack: Attack, uploads: Path, params: Mapping[str, Any]) -> Path:
    """Write the attack's upload into ``uploads`` and return its path."""
    tree = tree_of(attack, params)
    if attack.upload == "zip":
        return write_zip(tree, uploads / f"{attack.name}.zip")
    if attack.upload == "folder":
        return write_folder(tree, uploads / attack.name)
    assert callable(attack.upload)
    return attack.upload(tree, uploads / attack.name)
