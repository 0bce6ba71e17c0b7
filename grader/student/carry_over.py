"""Bring a student's own work from an earlier assignment into a later one (``grader carry-over``).

Every assignment folder starts with the released stubs in ``course_lib/``; later assignments need
earlier work (a2 trains assignment 1's network, a3 uses a2's ``adam``, a4 all of them). This copies
the task modules you changed in FROM's ``course_lib/`` into TO's. A file you have not changed in
FROM is left alone, and one you already changed in TO is never overwritten without ``--force``
(then the old one is kept as ``<module>.py.bak``). Only your files are copied: the course never
hands out reference code this way, and a file holding the reference's solution markers is refused.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from grader import paths
from grader.release.stubs import BEGIN
from grader.student.workspace import Workspace


@dataclass
class Outcome:
    """What happened to each task module, by module file name."""

    copied: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # edited in TO, overwritten with --force
    refused: list[str] = field(default_factory=list)  # edited in TO, kept (no --force)
    same: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # still the released stub in FROM
    problems: list[str] = field(default_factory=list)


def _released(module: str) -> bytes:
    """The released stub of ``module`` (what every assignment folder starts with)."""
    return (paths.COURSE_LIB / f"{module}.py").read_bytes()


def carry_over(source: Workspace, target: Workspace, force: bool = False) -> Outcome:
    """Copy the task modules changed in ``source`` into ``target``; see the module docstring."""
    outcome = Outcome()
    for module in paths.TASK_MODULES:
        name = f"{module}.py"
        mine, theirs = source.task_dir / name, target.task_dir / name
        if not mine.is_file():
            outcome.problems.append(f"{mine} is missing")
            continue
        text = mine.read_bytes()
        current = theirs.read_bytes() if theirs.is_file() else None
        if BEGIN.encode() in text:
            outcome.problems.append(f"{mine} holds reference solution markers: not copied")
        elif text == _released(module):
            outcome.unchanged.append(name)
        elif current == text:
            outcome.same.append(name)
        elif current not in (None, _released(module)) and not force:
            outcome.refused.append(name)
        else:
            if current not in (None, _released(module)):
                shutil.copyfile(theirs, theirs.with_name(f"{name}.bak"))
                outcome.replaced.append(name)
            theirs.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(mine, theirs)
            outcome.copied.append(name)
    return outcome


def report(source: Workspace, target: Workspace, outcome: Outcome) -> str:
    """What was copied and what was not, for the student."""
    lines = [f"carry-over {source.task_dir} -> {target.task_dir}"]
    for name in outcome.copied:
        backup = f" (your previous {name} is kept as {name}.bak)" if name in outcome.replaced else ""
        lines.append(f"  copied    {name}{backup}")
    lines += [f"  same      {name} (already identical)" for name in outcome.same]
    lines += [
        f"  skipped   {name} (you have not changed it in {source.assignment})" for name in outcome.unchanged
    ]
    lines += [
        f"  refused   {name}: you already changed it in {target.assignment}; --force overwrites it "
        f"(keeping {name}.bak)"
        for name in outcome.refused
    ]
    lines += [f"  problem   {problem}" for problem in outcome.problems]
    if not outcome.copied:
        lines.append("nothing copied")
    return "\n".join(lines)
