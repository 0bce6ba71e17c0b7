"""``autograde --roster``: LMS class lists become nbgrader's students; bad rows are refused, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.autograde.roster import RosterError, RosterStudent, read_roster
from grader.cli import autograde as cli
from grader.cli.arguments import build_parser


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "roster.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_plain_roster(tmp_path: Path):
    students, rejected = read_roster(
        _write(tmp_path, "id,first name,last name,email\nada,Ada,Lovelace,ada@x.org\n")
    )
    assert students == [RosterStudent("ada", "Ada", "Lovelace", "ada@x.org")] and rejected == []


@pytest.mark.parametrize(
    "header",
    [
        "Student ID,First Name,Last Name,Email",
        "\ufeffSIS User ID;First Name;Last Name;Email Address",  # Excel's BOM, a European separator
        "Username\tGiven Name\tSurname\tE-mail",
        "Name,ID,SIS Login ID,first_name,last_name,email",  # extra columns are ignored
    ],
)
def test_lms_header_spellings(tmp_path: Path, header: str):
    separator = ";" if ";" in header else "\t" if "\t" in header else ","
    width = len(header.split(separator))
    cells = ["ada", "Ada", "Lovelace", "ada@x.org"]
    row = cells if width == 4 else ["Lovelace, Ada", "ada", "ada", *cells[1:]]
    text = header + "\n" + separator.join(f'"{c}"' if separator in c else c for c in row) + "\n"
    students, rejected = read_roster(_write(tmp_path, text))
    assert students == [RosterStudent("ada", "Ada", "Lovelace", "ada@x.org")], rejected


def test_malformed_rows_are_rejected_by_line_and_the_rest_used(tmp_path: Path):
    text = (
        "Student ID,First Name,Last Name,Email\n"
        "Points Possible,,,\n"  # Canvas's second row
        "ben,Ben,Bitdiddle\n"  # a cell short
        "ada,Ada,Lovelace,ada@x.org\n"
        "\n"
        "ada,Another,Ada,a2@x.org\n"
        "../../etc,x,y,z\n"
        "cy,,,\n"
    )
    students, rejected = read_roster(_write(tmp_path, text))
    assert students == [
        RosterStudent("ada", "Ada", "Lovelace", "ada@x.org"),
        RosterStudent("cy", None, None, None),
    ]
    assert [m.split(":")[0] for m in rejected] == [f"roster line {n}" for n in (2, 3, 6, 7)]
    assert "not a student id" in rejected[0] and "3 cells, the header has 4" in rejected[1]
    assert "listed twice" in rejected[2] and "'../../etc'" in rejected[3]


@pytest.mark.parametrize(
    ("text", "encoding", "message"),
    [
        ("First Name,Last Name\nAda,Lovelace\n", "utf-8", "no student id column"),
        ("", "utf-8", "is empty"),
        ("id,first name\nadé,Adé\n", "latin-1", "not UTF-8"),
        ('id,first name\nada,"Ada" x\n', "utf-8", "not valid CSV"),
    ],
)
def test_unusable_rosters_are_refused_with_a_reason(tmp_path: Path, text: str, encoding: str, message: str):
    with pytest.raises(RosterError, match=message):
        read_roster(_write(tmp_path, text, encoding))


def test_names_are_neutralised_for_formgrader(tmp_path: Path):
    text = 'id,first name,last name,email\nmal,"<img src=x onerror=alert(1)>","Tables &amp; \x1b[2J\u202eX",m@x\n'
    [student], _ = read_roster(_write(tmp_path, text))
    for value in (student.first_name, student.last_name):
        assert not set("<>&\x1b\u202e") & set(value or ""), value
    assert student.first_name == "img src=x onerror=alert(1)"


def test_cli_refuses_an_unusable_roster_before_grading(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    roster = _write(tmp_path, "Name,Email\nAda,ada@x.org\n")
    args = build_parser().parse_args(
        [
            "autograde",
            "a1_fully_connected",
            str(tmp_path / "none"),
            "--out",
            str(tmp_path / "out"),
            "--roster",
            str(roster),
        ]
    )
    assert cli.main(args) == 2
    assert "roster refused: the roster has no student id column" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_cli_refuses_an_unreadable_deadline(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    args = build_parser().parse_args(
        [
            "autograde",
            "a1_fully_connected",
            str(tmp_path),
            "--out",
            str(tmp_path / "out"),
            "--deadline",
            "soon",
        ]
    )
    assert cli.main(args) == 2
    assert "--deadline refused: not a date and time: 'soon'" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()
