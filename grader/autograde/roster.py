"""``autograde --roster roster.csv``: the class list (id, first name, last name, email) for nbgrader.

Accepts the header spellings of common LMS exports ("Student ID", "SIS User ID", "First Name",
"Email Address" ...), comma, semicolon or tab separated, UTF-8 (with or without BOM). A row that
cannot be used (wrong number of cells, an id that is not a valid student id, an id given twice) is
rejected with a message naming its line; the other rows are used. A roster without an id column
is refused as a whole (:class:`RosterError`). Names and emails are student-controlled: they go
through :func:`grader.untrusted.gradebook_text` before they are stored.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import untrusted
from grader.autograde.intake import STUDENT_ID

MAX_ROSTER_BYTES = 10 * 1024**2
#: Normalised header (lower case, ``_``/``-`` as spaces) -> our field.
HEADERS = {
    **dict.fromkeys(
        ("id", "student id", "studentid", "sis user id", "sis login id", "login id", "user id",
         "username", "user name", "student number", "org defined id", "orgdefinedid"),
        "id",
    ),
    **dict.fromkeys(("first name", "firstname", "given name", "first", "forename"), "first_name"),
    **dict.fromkeys(("last name", "lastname", "surname", "family name", "last"), "last_name"),
    **dict.fromkeys(("email", "e mail", "email address", "e mail address", "mail"), "email"),
}  # fmt: skip


class RosterError(ValueError):
    """The roster as a whole cannot be used (unreadable, or no id column)."""


@dataclass(frozen=True)
class RosterStudent:
    id: str
    first_name: str | None
    last_name: str | None
    email: str | None


def _normalise(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").replace("_", " ").replace("-", " ").lower().split())


def _columns(header: list[str]) -> dict[str, int]:
    """{field: column index} of the fields the header names (the first column of each wins)."""
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        field = HEADERS.get(_normalise(name))
        if field is not None:
            columns.setdefault(field, index)
    if "id" not in columns:
        shown = ", ".join(untrusted.plain(repr(h), 40) for h in header[:12])
        raise RosterError(
            f"the roster has no student id column (header: {shown}); name one of: id, Student ID, SIS User ID, Username"
        )
    return columns


def _text(value: str, limit: int) -> str | None:
    return untrusted.gradebook_text(value, limit).strip() or None


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_ROSTER_BYTES:
            raise RosterError(f"the roster {path.name} is larger than {MAX_ROSTER_BYTES} bytes")
        return path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise RosterError(f"cannot read the roster: {error}") from None
    except UnicodeDecodeError:
        raise RosterError(f"the roster {path.name} is not UTF-8 text: export it as CSV (UTF-8)") from None


def read_roster(path: Path) -> tuple[list[RosterStudent], list[str]]:
    """The usable students of the roster at ``path``, and one message per rejected row."""
    text = _read_text(path)
    try:  # only the separator is guessed (from the header); quoting is always the CSV standard's
        delimiter = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    rows = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    try:
        header = next(rows, None)
        if header is None:
            raise RosterError(f"the roster {path.name} is empty")
        columns = _columns(header)
        return _students(rows, columns, len(header))
    except csv.Error as error:
        raise RosterError(f"the roster is not valid CSV (line {rows.line_num}): {error}") from None


def _students(rows: Any, columns: dict[str, int], width: int) -> tuple[list[RosterStudent], list[str]]:
    students: dict[str, RosterStudent] = {}
    rejected = []
    for row in rows:  # a csv reader: line_num is the line the row ended on
        line = rows.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            rejected.append(f"roster line {line}: {len(row)} cells, the header has {width}; row ignored")
            continue
        student = row[columns["id"]].strip()
        if not STUDENT_ID.match(student):
            shown = untrusted.plain(repr(student), 80)
            rejected.append(
                f"roster line {line}: {shown} is not a student id (letters, digits, _ . @ -); row ignored"
            )
            continue
        if student in students:
            rejected.append(f"roster line {line}: student {student} is listed twice; row ignored")
            continue
        cell = {field: row[index] for field, index in columns.items()}
        students[student] = RosterStudent(
            student, _text(cell.get("first_name", ""), 100), _text(cell.get("last_name", ""), 100),
            _text(cell.get("email", ""), 254),
        )  # fmt: skip
    return list(students.values()), rejected
