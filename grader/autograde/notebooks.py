"""Notebooks of a submission: restore locked cells, execute in the sandbox, sanitise outputs.

A notebook runs in a session of its own :class:`~grader.sandbox.session.Sandbox`, started after
the submission's checks are over (a tenant of the sandbox host, or a sandbox of its own): the
kernel is forked from the warm zygote (:mod:`grader.sandbox.kernel`) and never sees anything the
checks left behind.

The grades never come from here. The executed notebook is for the human grader (formgrader) and
the student's feedback; since it comes out of the sandbox it is treated as hostile: only plain
text, PNG images, streams and error summaries are kept, so nothing a student prints can run
script in the instructor's browser.

The student's own Markdown is hostile too: nbgrader's ``formgrade`` template renders markdown
cells without nbconvert's HTML cleaning (``sanitize_html`` does not reach it), and that page is
served by the instructor's Jupyter server. :func:`inert_markup` therefore renders every markdown
cell the release does not contain with the same renderer formgrader uses and keeps it only if
the result is plain Markdown output (no raw HTML, only the tags and attributes Markdown itself
produces, only http(s)/mailto/relative links); any other cell is shown as literal text.
"""

from __future__ import annotations

import base64
import copy
import html
import re
from typing import Any

import nbformat
import torch

from grader import untrusted
from grader.sandbox.redact import redact
from grader.sandbox.session import ChildDied, Sandbox, StudentError
from grader.sandbox.spec import NotebookJob

MAX_NOTEBOOK_BYTES = 20 * 1024**2
MAX_TEXT = 20_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def restore_locked_cells(notebook: Any, assignment: str, name: str, db_url: str) -> Any:
    """nbgrader's own repair: locked/grade cells back to the source, missing grade cells re-added."""
    from nbgrader.preprocessors import CheckCellMetadata, OverwriteCells, OverwriteKernelspec

    resources = {"nbgrader": {"notebook": name, "assignment": assignment, "db_url": db_url}}
    for preprocessor in (OverwriteKernelspec(), OverwriteCells(add_missing_cells=True), CheckCellMetadata()):
        notebook, resources = preprocessor.preprocess(notebook, resources)
    return notebook


def trusted_metadata(notebook: Any, released: Any) -> Any:
    """Give every cell the nbgrader metadata of the released notebook, or none.

    A student can edit any cell's metadata: forge grade ids and points, duplicate or unlock grade
    cells, or write values that make nbgrader's own repair raise. Only the release is trusted:
    the first cell carrying a released grade id gets that cell's released metadata (and cell
    type), every other cell loses its nbgrader metadata, and nbgrader's repair then restores
    locked sources and re-adds missing grade cells as usual.
    """
    trusted: dict[str, tuple[str, Any]] = {}
    for cell in released.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            trusted.setdefault(meta["grade_id"], (cell.cell_type, meta))
    seen: set[str] = set()
    for cell in notebook.cells:
        metadata = cell.get("metadata")
        if not isinstance(metadata, dict) or "nbgrader" not in metadata:
            continue
        meta = metadata["nbgrader"]
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if isinstance(grade_id, str) and grade_id in trusted and grade_id not in seen:
            kind, released_meta = trusted[grade_id]
            metadata["nbgrader"] = copy.deepcopy(released_meta)
            seen.add(grade_id)
            if cell.cell_type != kind:  # e.g. a markdown answer turned into code: turn it back
                cell.cell_type = kind
                for key in ("outputs", "execution_count", "attachments"):
                    cell.pop(key, None)
                if kind == "code":
                    cell.outputs, cell.execution_count = [], None
            continue
        del metadata["nbgrader"]
    notebook.metadata.pop("nbgrader", None)
    return notebook


def _text(value: Any, limit: int) -> str:
    """A student-produced string, bounded, with machine paths replaced by the student's names."""
    return redact(str(value)[-limit:] if limit < 0 else str(value)[:limit])


def _clean_output(output: Any) -> Any | None:
    kind = output.get("output_type")
    if kind == "stream":
        return nbformat.v4.new_output(
            "stream", name=output.get("name", "stdout"), text=_text(output.get("text", ""), MAX_TEXT)
        )
    if kind == "error":
        trace = "\n".join(str(line) for line in output.get("traceback", []))
        return nbformat.v4.new_output(
            "error",
            ename=_text(output.get("ename", ""), 200),
            evalue=_text(output.get("evalue", ""), 2000),
            traceback=[_text(trace, -MAX_TEXT)],
        )
    if kind in ("display_data", "execute_result"):
        data = output.get("data", {})
        kept: dict[str, str] = {}
        if isinstance(data.get("text/plain"), str):
            kept["text/plain"] = _text(data["text/plain"], MAX_TEXT)
        png = _clean_png(data.get("image/png"))
        if png is not None:
            kept["image/png"] = png
        if not kept:
            return None
        if kind == "execute_result":
            return nbformat.v4.new_output(
                "execute_result", data=kept, execution_count=output.get("execution_count")
            )
        return nbformat.v4.new_output("display_data", data=kept)
    return None


def _clean_png(data: object) -> str | None:
    """A PNG output as canonical base64, or None. Templates paste this string into an ``<img
    src="data:...">`` attribute unescaped: only the base64 alphabet may get there."""
    if not isinstance(data, str):
        return None
    try:
        image = base64.b64decode("".join(data.split()), validate=True)
    except ValueError:
        return None
    return base64.b64encode(image).decode("ascii") if image.startswith(PNG_MAGIC) else None


def sanitize_outputs(executed: Any, trusted: Any) -> Any:
    """Cells (sources, metadata) from ``trusted``; only clean outputs from ``executed``."""
    by_id = {cell.get("id"): cell for cell in executed.get("cells", []) if isinstance(cell, dict)}
    for cell in trusted.cells:
        if cell.cell_type != "code":
            continue
        ran = by_id.get(cell.get("id"), {})
        outputs = ran.get("outputs", []) if isinstance(ran, dict) else []
        cell.outputs = [
            clean for o in outputs if isinstance(o, dict) and (clean := _clean_output(o)) is not None
        ]
        count = ran.get("execution_count") if isinstance(ran, dict) else None
        cell.execution_count = count if isinstance(count, int) else None
    return trusted


#: What nbconvert's Markdown renderer itself produces: tags, and attributes with allowed values
#: (None: any value; URLs are checked separately).
MARKDOWN_TAGS = frozenset({
    "a", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "img", "input", "li", "ol", "p", "pre", "span", "strong", "table", "tbody", "td", "th",
    "thead", "tr", "ul",
})  # fmt: skip
MARKDOWN_ATTRIBUTES: dict[str, re.Pattern[str] | None] = {
    "alt": None,
    "class": re.compile(r"(?!.*mermaid)[A-Za-z0-9_ -]*", re.IGNORECASE),  # mermaid: not escaped
    "id": re.compile(r"[^\s]*"),
    "title": None,
    "href": None,
    "src": None,
    "start": re.compile(r"\d+"),
    "style": re.compile(r"text-align:(left|right|center)"),
    "type": re.compile(r"checkbox"),
    "disabled": re.compile(r""),
    "checked": re.compile(r""),
}
SAFE_SCHEMES = ("http", "https", "mailto")
SAFE_IMAGE_DATA = re.compile(r"data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=]*")
_TAG = re.compile(r'<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z-]+(?:="[^"<>]*")?)*)\s*/?>')
_ATTRIBUTE = re.compile(r'\s+([a-zA-Z-]+)(?:="([^"<>]*)")?')
#: TeX commands that MathJax turns into links, styles, element ids or loaded code (``\mmlToken``
#: sets any attribute, ``href`` included).
_MATHJAX_ACTIVE = re.compile(r"\\(href|url|class|cssId|style|require|unicode|html|mmlToken)(?![A-Za-z])")
SHOWN_AS_TEXT = "*[The grader shows this cell as text: it contained markup that is not rendered.]*"


def inert_markup(notebook: Any, released: Any) -> Any:
    """Make every markdown and raw cell that is not the release's own inert (see the module
    docstring): kept when it renders as plain Markdown, otherwise replaced by its source as a
    literal code block (raw cells always are: nbconvert emits them as HTML)."""
    trusted = {c.source for c in released.cells if c.cell_type in ("markdown", "raw")}
    for cell in notebook.cells:
        if cell.cell_type not in ("markdown", "raw") or cell.source in trusted:
            continue
        if cell.cell_type == "markdown" and renders_inert(cell.source, cell.get("attachments", {})):
            continue
        cell.source = f"{SHOWN_AS_TEXT}\n\n{_literal_block(cell.source)}"
        if cell.cell_type == "raw":
            cell.cell_type = "markdown"
            cell.metadata.pop("raw_mimetype", None)
            cell.metadata.pop("format", None)
        cell.pop("attachments", None)
    return notebook


def renders_inert(source: str, attachments: Any = None) -> bool:
    """True when formgrader's Markdown renderer turns ``source`` into Markdown's own markup only."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    try:
        rendered = [
            MarkdownWithMath(renderer=IPythonRenderer(escape=escape, attachments=attachments or {})).render(
                source
            )
            for escape in (False, True)
        ]
    except Exception:  # whatever the renderer cannot take is shown as text
        return False
    if rendered[0] != rendered[1] or not _only_markdown_tags(rendered[0]):  # differ: raw HTML
        return False
    typeset = re.sub(r"<(pre|code)\b.*?</\1>", "", rendered[0], flags=re.DOTALL)  # MathJax skips these
    return _MATHJAX_ACTIVE.search(html.unescape(typeset)) is None


def _only_markdown_tags(rendered: str) -> bool:
    position = rendered.find("<")
    while position != -1:
        tag = _TAG.match(rendered, position)
        if tag is None or tag.group(2).lower() not in MARKDOWN_TAGS:
            return False
        for name, value in _ATTRIBUTE.findall(tag.group(3)):
            if not _allowed_attribute(name.lower(), html.unescape(value)):
                return False
        position = rendered.find("<", tag.end())
    return True


def _allowed_attribute(name: str, value: str) -> bool:
    if name not in MARKDOWN_ATTRIBUTES:
        return False
    if name in ("href", "src"):
        return _safe_url(value, image=name == "src")
    pattern = MARKDOWN_ATTRIBUTES[name]
    return pattern is None or pattern.fullmatch(value) is not None


def _safe_url(url: str, image: bool) -> bool:
    """http(s), mailto, a relative URL or (images) PNG/JPEG/GIF data; judged the way a browser
    reads it (entities decoded, control characters and whitespace ignored, any case)."""
    compact = re.sub(r"[\x00-\x20\x7f]+", "", url)
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", compact)
    if scheme is None:
        return ":" not in compact.split("/", 1)[0] or compact.startswith(("/", "#", "?"))
    if image and SAFE_IMAGE_DATA.fullmatch(compact):
        return True
    return scheme.group(1).lower() in SAFE_SCHEMES


def _literal_block(text: str) -> str:
    """``text`` as a fenced code block that nothing inside can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def execute(notebook: Any, assignment: str, sandbox: Sandbox, timeout: float) -> tuple[Any, str]:
    """Run ``notebook`` (already restored) in a session of ``sandbox`` within ``timeout`` seconds;
    returns (notebook with sanitised outputs, problem or ''). Cells may run ``timeout / 2`` s
    each (at least 30 s)."""
    job = NotebookJob(nbformat.writes(notebook), assignment, int(max(timeout / 2, 30)))
    try:
        with sandbox.session(timeout=timeout) as session:
            try:
                reply = session.request({"op": "notebook", "what": "the notebook"}, job.to_wire())
            except ChildDied as died:  # the kernel's last words explain a crash (the student's text)
                said = session.last_line()
                return notebook, _problem(f"{died}" + (f": {said}" if said else ""))
    except (ChildDied, StudentError) as error:
        return notebook, _problem(str(error))
    executed, problem = _executed(reply)
    if executed is None:
        return notebook, _problem(problem or "the notebook produced no readable result")
    return sanitize_outputs(executed, notebook), _problem(problem) if problem else ""


def _executed(reply: Any) -> tuple[Any | None, str]:
    """The executed notebook (None if unusable) and the sandbox's problem line from ``reply``."""
    if not (type(reply) is tuple and len(reply) == 2 and isinstance(reply[1], str)):
        return None, ""
    data, problem = reply
    if (
        type(data) is not torch.Tensor
        or data.dtype != torch.uint8
        or not 0 < data.numel() <= MAX_NOTEBOOK_BYTES
    ):
        return None, problem
    try:
        return nbformat.reads(data.numpy().tobytes().decode(), as_version=4), problem
    except Exception as error:  # nbformat raises several unrelated types on garbage
        return None, problem or f"the executed notebook could not be read: {type(error).__name__}"


def _problem(text: str) -> str:
    """What the sandbox said went wrong, as one bounded, plain line (it quotes the student)."""
    lines = text.strip().splitlines()
    return "notebook execution failed: " + untrusted.plain(redact(lines[-1] if lines else "no message"), 300)
