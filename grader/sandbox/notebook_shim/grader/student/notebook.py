"""``check(task)`` and ``quick_test()`` during autograding: a note, not a grade."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


def check(task: str, assignment: str | None = None) -> None:
    print(f"{task}: graded by the autograder's sandboxed checks; see your feedback report.")


@contextlib.contextmanager
def quick_test() -> Iterator[None]:
    """As students see it: a stub's ``NotImplementedError`` becomes one printed line."""
    try:
        yield
    except NotImplementedError as error:
        print(f"{error}: this quick test runs once it is written.")
