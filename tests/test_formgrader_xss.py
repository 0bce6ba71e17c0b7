"""Student markup in autograded notebooks is inert in formgrader's own rendering.

nbgrader 0.9.6's ``formgrade`` template renders markdown cells without nbconvert's HTML cleaning,
so ``sanitize_html`` in the course config does not protect graders. The batch makes student
markdown inert when it writes ``autograded/`` (:func:`grader.autograde.notebooks.inert_markup`).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import nbformat
import pytest

from grader import paths
from grader.autograde import gradebook
from grader.autograde.nbgrader_hooks import template_basedirs
from grader.autograde.notebooks import inert_markup, renders_inert, sanitize_outputs, trusted_metadata
from tests.attacks import round2_surface
from tests.formgrade_render import formgrade_html, live_markup

ASSIGNMENT = "a1_fully_connected"


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text(
        gradebook.CONFIG.format(
            root=str(root),
            course_id=gradebook.COURSE_ID,
            db_url="sqlite:///x.db",
            exchange=str(root / "exchange"),
            template_basedirs=template_basedirs(),
        )
    )
    return root


def _released() -> nbformat.NotebookNode:
    return nbformat.read(paths.ASSIGNMENTS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)


def _attacked() -> nbformat.NotebookNode:
    edited = round2_surface.xss_notebook(json.loads(nbformat.writes(_released())), {})
    return nbformat.reads(json.dumps(edited), as_version=4)


def test_formgrade_runs_student_markup_unless_made_inert(course: Path):
    markers = round2_surface.XSS_MARKERS
    released = _released()
    notebook = sanitize_outputs(_attacked(), trusted_metadata(_attacked(), released))
    raw_page = formgrade_html(copy.deepcopy(notebook), course)
    assert len(live_markup(raw_page, markers)) >= 10, "the test no longer sees formgrader's own flaw"

    page = formgrade_html(inert_markup(notebook, released), course)
    assert live_markup(page, markers) == []
    assert all(marker in page for marker in markers), "graders must still see what was written"


def test_plain_markdown_answers_render_as_markdown(course: Path):
    answer = (
        "# My answer\n\nThe loss *drops* because **momentum** keeps `v`; see "
        "[the notes](https://cs231n.github.io/) and ![plot](loss.png).\n\n"
        "1. first\n2. second\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n$x < y$ and $$\\sum_i x_i$$\n\n"
        "```python\nx = a < b\n```\n\n- [ ] todo\n\n> quoted a < b & c\n"
    )
    assert renders_inert(answer)
    released = _released()
    notebook = _released()
    answers = [c for c in notebook.cells if c.cell_type == "markdown" and round2_surface._is_answer(c)]
    assert answers
    for cell in answers:
        cell.source = answer
    assert [c.source for c in inert_markup(notebook, released).cells] == [c.source for c in notebook.cells]
    page = formgrade_html(notebook, course)
    assert "<em>drops</em>" in page and '<a href="https://cs231n.github.io/">' in page


def test_the_release_is_never_rewritten():
    released = _released()
    before = [c.source for c in released.cells]
    assert [c.source for c in inert_markup(_released(), released).cells] == before


@pytest.mark.parametrize(
    "source",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "<javascript:alert(1)>",
        "[x](&#106;avascript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "![x](data:image/svg+xml;base64,PHN2Zz4=)",
        "<b>bold</b>",
        "text <!-- comment --> text",
        "$\\href{javascript:alert(1)}{x}$",
        '$\\mmlToken{mi}[href="javascript:alert(1)"]{x}$',
        "```mermaid\ngraph TD; A-->B\n```",
        "[r]\n\n[r]: vbscript:x",
    ],
)
def test_anything_but_plain_markdown_is_shown_as_text(source: str):
    assert not renders_inert(source)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(source)])
    shown = inert_markup(notebook, nbformat.v4.new_notebook()).cells[0].source
    assert shown.endswith(f"```\n{source}\n```") or shown.endswith(f"````\n{source}\n````")
    assert renders_inert(shown)


def test_formgrade_pages_load_mathjax_from_the_course_server(course: Path):
    """No script of the page comes from another host: MathJax is served by the course's own
    Jupyter server (scripts/setup.sh), relative to the page (<base_url>/formgrader/submissions/<id>/)."""
    page = formgrade_html(_released(), course)
    sources = re.findall(r"<script\b[^>]*\bsrc=\"([^\"]*)\"", page)
    assert "../../../static/course-mathjax/tex-svg-full.js" in sources
    assert all(source.startswith(("/base/", "../")) for source in sources), sources
    assert "cdnjs" not in page and "MathJax.Hub.Config" not in page
