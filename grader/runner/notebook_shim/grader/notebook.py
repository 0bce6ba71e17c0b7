"""``check(task)`` during autograding: a note, not a grade."""


def check(task: str, assignment: str | None = None) -> None:
    print(f"{task}: graded by the autograder's sandboxed checks; see your feedback report.")
