"""``python -m grader gradescope ASSIGNMENT --out autograder.zip``: a Gradescope autograder.

The zip follows Gradescope's autograder layout. Gradescope unpacks it into ``/autograder/source``
and runs ``setup.sh`` once, as root, when it builds the image (it installs bubblewrap and this
repository's environment); for every submission it runs ``run_autograder``, which grades the
files in ``/autograder/submission`` (the folder the student uploaded, or the zip from
``grader submit``) with the same sandboxed checks as ``grader autograde`` and writes
``/autograder/results/results.json``: one test per check, hidden checks ``after_published``
and without output. ``AUTOGRADER_ROOT`` replaces ``/autograder`` (tests unpack into a folder).

Where bubblewrap cannot run (containers without user namespaces), checks run as a plain child
under an unprivileged uid; the files students must not read (reference solutions, hidden checks,
stored references, the results folder) are closed to other uids first.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from grader import paths, render
from grader.autograde.batch import checks_of, grading_reference, summarise
from grader.autograde.intake import intake
from grader.checks.engine import CheckRunner, submission_lib
from grader.sandbox import launch

#: Repository paths (files or folders) the autograder needs; caches and local state are skipped.
PACKAGED = ("grader", "course_lib", "solutions", "assignments", "scripts/setup.sh", "pyproject.toml")
#: What the student's code must never read inside Gradescope's container.
PRIVATE = ("solutions", "grader/reference", "grader/checks/hidden")
_SKIPPED = ("__pycache__", ".ipynb_checkpoints", ".pytest_cache")
#: Wall-clock seconds for all checks of the submission (Gradescope's own timeout is longer).
CHECK_BUDGET = 600.0

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
apt-get update -qq
apt-get install -y -qq bubblewrap python3.11 python3.11-venv \\
  || apt-get install -y -qq bubblewrap python3 python3-venv
TORCH_PIP_ARGS="{torch_pip_args}" bash scripts/setup.sh
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission, as root. AUTOGRADER_ROOT replaces /autograder.
set -euo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
python="${{AUTOGRADER_PYTHON:-$root/source/.venv/bin/python}}"
cd "$root/source"
exec "$python" -m grader gradescope {assignment} --grade "$root"
"""


def _packaged_files() -> list[Path]:
    files = []
    for entry in PACKAGED:
        path = paths.REPO / entry
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        files += [
            p
            for p in candidates
            if p.is_file()
            and not p.is_symlink()
            and not any(s in p.parts for s in _SKIPPED)
            and p.suffix != ".pyc"
        ]
    return files


def package(assignment: str, out: Path, torch_pip_args: str = "") -> Path:
    """Write the autograder zip for ``assignment`` to ``out``."""
    if assignment not in paths.ASSIGNMENT_NAMES:
        raise ValueError(
            f"unknown assignment {assignment!r}; choose from {', '.join(paths.ASSIGNMENT_NAMES)}"
        )
    if not (paths.SOLUTION_LIB / "layers.py").exists():
        raise FileNotFoundError("solutions/ is missing: the autograder needs the reference implementation")
    executable = stat.S_IFREG | 0o755
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, text in (
            ("setup.sh", SETUP_SH.format(torch_pip_args=torch_pip_args)),
            ("run_autograder", RUN_AUTOGRADER.format(assignment=assignment)),
        ):
            info = zipfile.ZipInfo(name)
            info.external_attr = executable << 16
            bundle.writestr(info, text)
        for file in _packaged_files():
            bundle.write(file, file.relative_to(paths.REPO).as_posix())
    return out


def _upload(folder: Path) -> Path:
    """The student's upload: a lone zip in ``folder`` (``grader submit``'s), else the folder."""
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.is_dir() else []
    if len(entries) == 1 and entries[0].suffix == ".zip":
        return entries[0]
    return folder


def close_private_files(results: Path) -> None:
    """Make :data:`PRIVATE` and ``results`` readable by their owner (root) only."""
    for target in [*(paths.REPO / p for p in PRIVATE), results]:
        if target.exists():
            target.chmod(0o700)


def grade(assignment: str, root: Path) -> dict[str, Any]:
    """Grade ``root/submission`` and write ``root/results/results.json``; returns the results."""
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        close_private_files(results_dir)
    # Gradescope's containers often cannot create namespaces: then an unprivileged child process
    policy = launch.SandboxPolicy(allow_unsandboxed=True, warm=False)
    with tempfile.TemporaryDirectory(prefix="grader-gradescope-") as tmp:
        submission = intake(_upload(root / "submission"), assignment, Path(tmp) / "submission")
        reference, store = grading_reference()
        with (
            submission_lib(submission.root) as (lib_dir, _),
            CheckRunner(lib_dir, policy, reference, store, CHECK_BUDGET) as runner,
        ):
            checks = runner.run(checks_of(assignment))
    result = render.gradescope(summarise(submission, checks, isolation=runner.isolation.value))
    if not runner.isolation.sandboxed:
        result["output"] = "\n".join(
            filter(None, [result["output"], "(graded without bubblewrap: an unprivileged child process)"])
        )
    (results_dir / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
