"""``python -m grader demo``: grade a small sample class end to end and show where everything went.

The class is built from this repository, so it always matches the current assignment:

- ``alice``   the reference task files (a perfect autograded score);
- ``bob``     correct layers with one classic bug (ReLU gradient on x >= 0), nothing else done;
- ``carol``   the reference task files but a notebook that is not valid JSON;
- ``dave``    an empty zip;
- ``mallory`` code that tries to cheat: forged comparison results, reading the solutions, writing
  fake grades, killing its own process.

Their names come from a roster (``roster.csv``, LMS header spellings) as an instructor passes it
with ``autograde --roster``.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

from grader import paths
from grader.autograde.batch import BatchOptions, autograde
from grader.autograde.roster import read_roster
from grader.results import SubmissionResult
from grader.sandbox import isolation
from grader.sandbox.launch import SandboxPolicy

ASSIGNMENT = "a1_fully_connected"

MALICIOUS_LAYERS = '''
import os
import sys


class AlwaysEqual:
    """Claims to equal anything."""

    def __eq__(self, other):
        return True

    shape = property(lambda self: (2, 2))


def _loot():
    stolen = []
    for path in ("/work", "/root", "solutions", "../solutions", "/sandbox/lib/../../solutions"):
        try:
            stolen.append(str(os.listdir(path)))
        except OSError as error:
            stolen.append(repr(error))
    try:
        with open("/tmp/results.json", "w") as fake:
            fake.write('{"score": 100, "max_score": 100}')
    except OSError:
        pass
    print("PASS all checks: 100/100", file=sys.stderr)
    return stolen


class Linear:
    @staticmethod
    def forward(x, w, b):
        _loot()
        return AlwaysEqual(), None

    @staticmethod
    def backward(dout, cache):
        import torch

        torch.allclose = lambda *args, **kwargs: True
        return dout, dout, dout


class ReLU:
    @staticmethod
    def forward(x):
        os._exit(0)

    @staticmethod
    def backward(dout, cache):
        sys.exit(0)
'''


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def _student_files(task_source: Path, notebooks: dict[str, bytes] | None = None) -> dict[str, bytes]:
    files = {f"course_lib/{m}.py": (task_source / f"{m}.py").read_bytes() for m in paths.TASK_MODULES}
    released = paths.ASSIGNMENTS / ASSIGNMENT
    default = {f"assignments/{ASSIGNMENT}/{nb.name}": nb.read_bytes() for nb in released.glob("*.ipynb")}
    files.update(notebooks if notebooks is not None else default)
    return files


def layers_with_relu_bug() -> str:
    """The reference ``layers.py`` with one classic bug: ReLU's gradient let through at x == 0."""
    reference = (paths.SOLUTION_LIB / "layers.py").read_text()
    buggy = reference.replace("dx = x.sign().clamp_(min=0).mul_(dout)", "dx = dout * (x >= 0)", 1)
    if buggy == reference:
        raise RuntimeError(
            "the reference ReLU.backward no longer reads 'dx = x.sign().clamp_(min=0).mul_(dout)': update the demo's bug"
        )
    return buggy


def build_class(folder: Path) -> list[Path]:
    """Write the sample uploads (zips named by student id) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    perfect = _student_files(paths.SOLUTION_LIB)
    partial = _student_files(paths.COURSE_LIB)
    partial["course_lib/layers.py"] = layers_with_relu_bug().encode()
    broken = dict(perfect)
    for name in broken:
        if name.endswith(".ipynb"):
            broken[name] = b'{"cells": [ this is not json'
    malicious = _student_files(paths.COURSE_LIB)
    malicious["course_lib/layers.py"] = MALICIOUS_LAYERS.encode()
    uploads = {"alice": perfect, "bob": partial, "carol": broken, "dave": {}, "mallory": malicious}
    written = []
    for student, files in uploads.items():
        path = folder / f"{student}.zip"
        path.write_bytes(_zip(files))
        written.append(path)
    return written


def write_roster(path: Path) -> Path:
    """The class list an LMS would export (its header spellings), so formgrader shows names."""
    rows = [("alice", "Alice", "Archer"), ("bob", "Bob", "Baker"), ("carol", "Carol", "Clark"),
            ("dave", "Dave", "Dawson"), ("mallory", "Mallory", "Mayhem")]  # fmt: skip
    lines = ["Student ID,First Name,Last Name,Email"]
    lines += [f"{student},{first},{last},{student}@example.edu" for student, first, last in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(out: Path, workers: int) -> tuple[list[SubmissionResult], Path]:
    """Build the sample class under ``out`` (replacing it) and grade it; return the results and
    the grading folder."""
    if out.exists():
        shutil.rmtree(out)
    uploads = build_class(out / "uploads")
    roster, _ = read_roster(write_roster(out / "roster.csv"))
    policy = SandboxPolicy(allow_unsandboxed=True)  # a demo: without bubblewrap it says so and runs
    isolated = isolation.resolve(policy)
    warning = "" if isolated.sandboxed else ": NO sandbox, install bubblewrap"
    print(f"grading {len(uploads)} sample submissions of {ASSIGNMENT} (isolation {isolated.value}{warning})")
    options = BatchOptions(ASSIGNMENT, out / "course", policy, roster=tuple(roster))
    return autograde(uploads, options, workers=workers), options.out
