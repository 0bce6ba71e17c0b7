"""Correct implementations written differently from the reference: the mirror of the mutants.

Each catalog module (one per assignment) defines ``VARIANTS``: a list of :class:`Variant`, each a
few edits of the solution regions of one file of ``solutions/course_lib`` the way real students
write correct code (another cache layout, another formula of the same value, in-place or
out-of-place state ...). Every variant must earn every point of the tasks it touches, public and
hidden, except where the spec deliberately fixes a choice: then it loses exactly the checks named
in ``loses``, and each of their messages quotes the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.mutants import region_edit, replace_once


@dataclass(frozen=True)
class Variant:
    name: str
    module: str  # "layers", "fc_net" or "optim"
    edits: tuple[tuple[str, str], ...]  # (old, new): each old occurs exactly once
    why: str  # the way of writing it this stands for
    #: (check, words of the rule that check's message must quote): the only checks it may fail
    loses: tuple[tuple[str, str], ...] = ()

    def apply(self, source: str) -> str:
        for old, new in self.edits:
            source = replace_once(source, old, new, f"variant {self.name}")
        return source


def rewrite(name: str, module: str, why: str, *bodies: tuple[str, str], loses=()) -> Variant:
    """A variant that replaces the solution region of each (task, body) pair by ``body``."""
    return Variant(name, module, tuple(region_edit(task, body) for task, body in bodies), why, tuple(loses))
