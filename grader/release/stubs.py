"""Generate student stubs from marked reference modules.

A reference module marks every student region like this::

    # TODO (Linear.forward): flatten x to (N, D) and apply the affine map.
    ### BEGIN SOLUTION
    ...reference code...
    ### END SOLUTION

Each region becomes a single ``raise NotImplementedError(...)`` naming the task from the nearest
``# TODO (<task>):`` line above it; every other byte of the file is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_TODO = re.compile(r"^\s*# TODO \((?P<task>[^)]+)\):")


class MarkerError(ValueError):
    """A reference module whose solution markers are malformed."""


@dataclass(frozen=True)
class Region:
    """One student region: ``task`` and the 1-based line numbers of its markers."""

    task: str
    begin: int
    end: int


def not_implemented_message(task: str, module: str) -> str:
    """The message every stub of ``task`` raises; checks and notebooks match on it."""
    return f"{task} is not implemented yet (course_lib/{module}.py, TODO {task})"


def find_regions(source: str, filename: str = "<source>") -> list[Region]:
    """Every marked region of ``source``, in order; raises MarkerError on bad nesting."""
    regions: list[Region] = []
    task: str | None = None
    begin: int | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        todo = _TODO.match(line)
        if todo and begin is None:
            task = todo["task"].strip()
        elif stripped == BEGIN:
            if begin is not None:
                raise MarkerError(f"{filename}:{number}: nested {BEGIN}")
            if task is None:
                raise MarkerError(f"{filename}:{number}: {BEGIN} without a '# TODO (<task>):' line above")
            begin = number
        elif stripped == END:
            if begin is None or task is None:
                raise MarkerError(f"{filename}:{number}: {END} without {BEGIN}")
            regions.append(Region(task, begin, number))
            begin = None
        elif BEGIN in stripped or END in stripped:
            raise MarkerError(f"{filename}:{number}: marker must stand alone on its line")
    if begin is not None:
        raise MarkerError(f"{filename}:{begin}: {BEGIN} is never closed")
    return regions


def make_stub(source: str, module: str, filename: str = "<source>") -> str:
    """Return ``source`` with every marked region replaced by a NotImplementedError stub."""
    lines = source.splitlines(keepends=True)
    out: list[str] = []
    position = 0
    for region in find_regions(source, filename):
        out.extend(lines[position : region.begin - 1])
        marker = lines[region.begin - 1]
        indent = marker[: len(marker) - len(marker.lstrip())]
        message = not_implemented_message(region.task, module)
        out.append(f'{indent}raise NotImplementedError("{message}")\n')
        position = region.end
    out.extend(lines[position:])
    return "".join(out)


def tasks_in(source: str, filename: str = "<source>") -> list[str]:
    """Task names of ``source`` in order of first appearance."""
    return list(dict.fromkeys(region.task for region in find_regions(source, filename)))
