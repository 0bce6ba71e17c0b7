"""Known-bug mutants of the reference solution; every one must be caught by a named check.

Each catalog module (one per assignment) defines ``MUTANTS``: a list of :class:`Mutant`, each a
single textual edit of one file of ``solutions/course_lib`` and the checks expected to fail.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    name: str
    module: str  # "layers", "fc_net" or "optim"
    old: str  # exact text in solutions/course_lib/<module>.py (must occur exactly once)
    new: str
    caught_by: tuple[str, ...]  # check names that must fail on this mutant (at least one)
    why: str = ""  # the realistic bug this stands for

    def apply(self, source: str) -> str:
        count = source.count(self.old)
        if count != 1:
            raise ValueError(f"mutant {self.name}: the text to replace occurs {count} times, expected once")
        return source.replace(self.old, self.new)
