"""What a check function receives: the student's session, expected values, and seeds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from grader.checks.reference import ReferenceLib, ReferenceStore
from grader.checks.registry import Check
from grader.sandbox.session import Session

#: Seed of every randomized check in normal grading; the honesty tests vary it.
DEFAULT_SEED = 0


@dataclass
class Context:
    """``student`` calls into the submission; ``expected`` gives reference values."""

    check: Check
    student: Session
    store: ReferenceStore
    reference: ReferenceLib | None
    seed: int = DEFAULT_SEED

    def expected(self, key: str, compute: Callable[[ReferenceLib], Any]) -> Any:
        """The reference value ``compute(ref)``, stored under this check's name and ``key``."""
        return self.store.value(self.check.reference_file, f"{self.check.name}/{key}", compute)

    def generator(self, stream: int = 0) -> torch.Generator:
        """A fresh generator for randomized inputs, determined by the seed and ``stream``."""
        if not self.check.randomized:
            raise RuntimeError(f"check {self.check.name} draws random inputs: declare it randomized=True")
        return torch.Generator().manual_seed(self.seed * 1_000_003 + stream)
