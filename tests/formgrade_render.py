"""Render a notebook the way nbgrader's formgrader shows a submission, and find live markup in it.

Formgrader (``nbgrader.server_extensions.formgrader``) renders ``autograded/<student>/<a>/<nb>.ipynb``
with an ``HTMLExporter`` built from the course's ``nbgrader_config.py`` plus the extension's own
extra config (template ``formgrade`` from its template folder): the same is done here.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

#: Attribute values a browser only decodes as an image, whatever text they carry.
IMAGE_DATA = ("data:image/png;base64,", "data:image/jpeg;base64,")
#: Tags whose mere presence with a payload marker means the student's markup is live.
ACTIVE_ELEMENTS = frozenset(
    ["script", "style", "iframe", "object", "embed", "meta", "base", "form", "svg", "details", "link"]
)


def formgrade_html(notebook: Any, course: Path) -> str:
    """The page formgrader serves for ``notebook`` (a NotebookNode) in the course folder ``course``."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader.formgrader import FormgradeExtension
    from traitlets.config.loader import PyFileConfigLoader

    # as FormgradeExtension.initialize: its own settings first, the course's file over them
    config = FormgradeExtension().build_extra_config()
    config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config())
    resources = {
        "assignment_id": "a",
        "notebook_id": "nb",
        "submission_id": "s",
        "index": 0,
        "total": 1,
        "base_url": "/base",
        "student": "student",
        "last_name": "",
        "first_name": "",
        "notebook_path": "nb.ipynb",
    }
    html, _ = HTMLExporter(config=config).from_notebook_node(notebook, resources=resources)
    return html


class _LiveMarkup(HTMLParser):
    def __init__(self, markers: tuple[str, ...]) -> None:
        super().__init__(convert_charrefs=True)
        self.markers = markers
        self.found: list[str] = []
        self.inside: list[str] = []

    def _marked(self, text: str) -> list[str]:
        return [m for m in self.markers if m in text]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if (value or "").startswith(IMAGE_DATA):
                continue  # a browser reads this only as image bytes
            for marker in self._marked(value or ""):
                self.found.append(f"<{tag} {name}=...{marker}...>")
        classes = dict(attrs).get("class") or ""
        self.inside.append("active" if tag in ACTIVE_ELEMENTS or "mermaid" in classes.split() else tag)

    def handle_endtag(self, tag: str) -> None:
        if self.inside:
            self.inside.pop()

    def handle_data(self, data: str) -> None:
        if "active" in self.inside:
            self.found += [f"{marker} inside an active element" for marker in self._marked(data)]


def live_markup(html: str, markers: tuple[str, ...]) -> list[str]:
    """Where a payload marker sits in markup a browser acts on: an attribute of any tag (event
    handlers, URLs, refresh targets; not PNG/JPEG data), or the content of a script, style, iframe, svg ... element
    or of a mermaid diagram. Escaped text (what inert markup leaves) is not live."""
    parser = _LiveMarkup(markers)
    parser.feed(html)
    parser.close()
    return parser.found
