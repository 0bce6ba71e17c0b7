"""The neutraliser of student-controlled strings, and the reports that use it at every sink."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from grader import render, untrusted
from grader.autograde import reports
from grader.results import SubmissionResult
from tests.attacks.round2_surface import ESCAPES

#: What a terminal or a spreadsheet acts on: C0/C1 controls, DEL, bidi overrides (newline allowed
#: only where a sink puts it).
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
HOSTILE = f"Oops{ESCAPES}\x00\x7f\x9b\u2028 line\n# Score 100/100\n- PASS forged <img src=x onerror=alert(1)> [x](javascript:y) *b* `c` | $m$ &amp;"


def test_plain_is_one_bounded_printable_line():
    text = untrusted.plain(HOSTILE)
    assert not UNSAFE.search(text) and "\n" not in text
    assert "\\x1b]0;PWNED-TITLE\\x07" in text, "escapes stay visible as text"
    assert "\\u202e" in text and "\\x00" in text and "\\x9b" in text
    assert untrusted.plain("x" * 5000, 100) == "x" * 99 + untrusted.CUT
    assert untrusted.plain("  a \t b\n\nc ") == "a b c"
    assert untrusted.plain("déjà vu 🙂 ∑") == "déjà vu 🙂 ∑", "printable text is kept as is"


def test_markdown_renders_as_the_text_itself():
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    for text in (HOSTILE, "# heading", "1. list", "- item", "+ item", "> quote", "---", "=", "```"):
        rendered = markdown2html_mistune(f"- label: {untrusted.markdown(text)}")
        assert re.fullmatch(r"<ul>\s*<li>label: [^<]*</li>\s*</ul>\s*", rendered), (text, rendered)


def test_html_text_and_csv_cell():
    assert "<" not in untrusted.html_text("<script>'\"") and "&#x27;" in untrusted.html_text("'")
    for formula in ("=1+2", "+1", "-1+cmd|' /C calc'!A0", "@SUM(A1)"):
        assert untrusted.csv_cell(formula) == "'" + formula
    assert untrusted.csv_cell("alice") == "alice"


@pytest.mark.parametrize("name", ["alice", "a.b@c-d_e", "x" * 64])
def test_a_valid_name_is_its_own_file_name(name: str):
    assert untrusted.file_name(name) == name


@pytest.mark.parametrize("name", [HOSTILE, "../../etc/passwd", ".hidden", "", "x" * 65, "a b", "ä"])
def test_any_other_name_becomes_a_safe_distinct_file_name(name: str):
    safe = untrusted.file_name(name)
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}", safe), safe
    assert safe != untrusted.file_name(name + "!"), "different names, different files"


def _result(message: str, problem: str, student: str = "alice") -> SubmissionResult:
    check = {
        "check": "linear_forward_small",
        "assignment": "a1",
        "task": "Linear.forward",
        "visibility": "public",
        "points": 0.0,
        "max_points": 1.0,
        "passed": False,
        "message": message,
    }
    return SubmissionResult.from_json(
        {"student": student, "assignment": "a1", "problems": [problem], "checks": [check]}
    )


def test_reports_carry_no_control_character_or_markup():
    result = _result(f"your code raised {HOSTILE}", f"notebook execution failed (exit -9): {HOSTILE}")
    markdown = render.feedback_markdown(result)
    assert not UNSAFE.search(markdown)
    assert not any(line.startswith(("# Score", "- PASS")) for line in markdown.splitlines())
    assert not re.search(r"(?<!\\)[<`*\[]", markdown.split("## Linear.forward")[1])
    page = render.feedback_html(result)
    assert not UNSAFE.search(page) and "<img" not in page
    gradescope = render.gradescope(result)
    assert not UNSAFE.search(json.dumps(gradescope, ensure_ascii=False))


def test_grades_csv_quotes_formulas(tmp_path):
    path = tmp_path / "grades.csv"
    reports.write_grades_csv([_result("m", "p", student="=cmd|' /C calc'!A0")], {}, path)
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[1][0] == "'=cmd|' /C calc'!A0"
