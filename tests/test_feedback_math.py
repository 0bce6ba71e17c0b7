"""Feedback pages get their math typeset into static SVG by MathJax under node, without the
page's MathJax scripts; student TeX that would make links, classes or load code stays inert."""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter

from grader import paths
from grader.autograde.nbgrader_hooks import math_typesetter, offline_math

TYPESETTER = math_typesetter()
needs_typesetter = pytest.mark.skipif(
    TYPESETTER is None, reason="node 20+ or MathJax (scripts/setup.sh) missing"
)

CDN_SCRIPTS = (
    '<script type="text/x-mathjax-config">MathJax.Hub.Config({});</script>'
    '<script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/MathJax.js?config=TeX-AMS_CHTML-full,Safe">'
    "</script>"
)


def page(body: str) -> str:
    """An nbconvert-like page: MathJax from a CDN in the head, ``body`` as HTML."""
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8">{CDN_SCRIPTS}</head><body>{body}</body></html>'
    )


@needs_typesetter
def test_math_becomes_static_svg_and_the_page_runs_no_script():
    typeset = offline_math(
        page(r"<p>inline $\sum_i x_i^2$ and display $$\frac{\partial L}{\partial w}$$</p>"), TYPESETTER
    )
    assert typeset.count("<mjx-container") == 2 and "<svg" in typeset
    assert "<script" not in typeset.lower() and "cdnjs" not in typeset
    assert "$" not in typeset.split("<body>", 1)[1].split("<svg", 1)[0], "the TeX delimiters are gone"


@needs_typesetter
def test_student_tex_cannot_link_style_or_load_code(tmp_path: Path):
    marker = tmp_path / "loaded"
    (tmp_path / "evil.js").write_text(f"require('fs').writeFileSync({str(marker)!r}, 'x');\n")
    attacks = [
        r"$\href{javascript:alert(1)}{x}$",
        r'$\mmlToken{mi}[href="javascript:alert(2)" class="evil"]{y}$',
        rf"$\require{{{tmp_path / 'evil'}}}$",
        r"$\class{evil}{z}$ $\cssId{evil}{z}$",
        r"$\text{" + html.escape("<img src=x onerror=alert(3)>") + "}$",
    ]
    typeset = offline_math(page("".join(f"<p>{a}</p>" for a in attacks)), TYPESETTER)
    assert typeset.count("<mjx-container") == len(attacks) + 1
    assert "javascript:" not in typeset and "evil" not in typeset and "<img" not in typeset
    assert not marker.exists(), "\\require loaded a file"


def test_without_a_typesetter_the_math_stays_tex_and_the_scripts_go():
    source = page(r"<p>$x^2$</p>")
    assert offline_math(source, None) == source.replace(CDN_SCRIPTS, "")


def test_a_failing_typesetter_leaves_the_math_as_tex(capsys):
    source = page(r"<p>$x^2$</p>")
    assert offline_math(source, ["false"]) == source.replace(CDN_SCRIPTS, "")
    assert "feedback math left as TeX" in capsys.readouterr().err


@needs_typesetter
@pytest.mark.parametrize("notebook", sorted(paths.ASSIGNMENTS.glob("*/*.ipynb")), ids=lambda p: p.stem)
def test_every_formula_of_a_released_notebook_typesets(notebook: Path):
    """The TeX packages left out for student text are not used by the course's own: no formula
    comes out as an error (merror) or as an unknown command (red text)."""
    rendered, _ = HTMLExporter(template_name="classic").from_notebook_node(
        nbformat.read(notebook, as_version=4)
    )
    typeset = offline_math(rendered, TYPESETTER)
    assert typeset.count("<mjx-container") >= 20
    assert not re.findall(r'data-mml-node="merror"[^\]]|fill="red"', typeset)
