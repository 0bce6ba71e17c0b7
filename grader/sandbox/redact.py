"""Paths of the grading machine rewritten to names the student knows, before text leaves the grader.

Student code runs from folders that exist only inside the sandbox (``/sandbox/inbox/<uid>/``,
``/sandbox/work/``) or in the grader's temporary folders, and library frames point into the
grader's Python installation. Messages, tracebacks and notebook outputs name the submission's
own files instead: ``course_lib/layers.py``, ``assignments/<a>/<a>.ipynb``, and library files
relative to ``site-packages/`` or ``python/``.
"""

from __future__ import annotations

import functools
import re
import sys
import sysconfig

#: Any absolute path up to a folder the student knows by name: ``.../course_lib/x.py``. It starts
#: after a space, quote or bracket (or an ANSI colour code), never inside a URL or a word.
_STUDENT_FOLDER = re.compile(
    r"(?:(?<![\w:/.\-])|(?<=\dm))(?:/[^\s\"'()\[\]<>:,;|]+)*?/(course_lib|assignments)(?=/|\b)"
)
#: The sandbox's own mount points, whatever remains of them.
_SANDBOX = re.compile(r"/sandbox/(?:inbox/\d+/|lib/|work/|runner/)?")


@functools.cache
def _library_prefixes() -> list[tuple[str, str]]:
    """(prefix, shown as) for the Python installation, longest first."""
    paths = sysconfig.get_paths()
    pairs = {
        paths["purelib"]: "site-packages",
        paths["platlib"]: "site-packages",
        paths["stdlib"]: "python",
        sys.prefix: "python",
        sys.base_prefix: "python",
    }
    return sorted(
        ((p.rstrip("/"), shown) for p, shown in pairs.items() if len(p) > 1), key=lambda x: -len(x[0])
    )


def redact(text: str) -> str:
    """``text`` with every machine path replaced by the name the student knows."""
    text = _STUDENT_FOLDER.sub(r"\1", text)
    text = _SANDBOX.sub("", text)
    for prefix, shown in _library_prefixes():
        text = text.replace(prefix + "/", shown + "/")
    return text
