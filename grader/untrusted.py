"""The one neutraliser for student-controlled strings on their way out of the grader.

Exception names and messages, anything a student's code or notebook printed, upload names:
whatever a student chose may reach a terminal, a file name, a CSV cell, Markdown or HTML. Each
sink gets its own function here, and every one starts from :func:`plain`: a single line, no
control or format characters (terminal escapes, bidi overrides, NUL ...), at most ``limit``
characters. Use them at the sink, even for text that was neutralised before.
"""

from __future__ import annotations

import hashlib
import html
import re

#: Characters kept from a student string unless a sink asks for fewer.
MAX_LENGTH = 2000
CUT = "…"
#: Markdown punctuation that opens inline markup (emphasis, code, links, HTML, entities, tables,
#: math) or, at the start of the text, a block (heading, quote, fence).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&~|$#])")
#: At the start of the text only: a list item, an ordered list or a setext underline.
_MARKDOWN_BLOCK_START = re.compile(r"^(\d{0,9})([-+=.)])")
#: Leading characters that make a spreadsheet read a cell as a formula (or DDE command).
_FORMULA_START = ("=", "+", "-", "@")
_FILE_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]")
_MARKUP = re.compile(r"[<>&]")
MAX_FILE_NAME = 64


def _escape_char(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def plain(text: object, limit: int = MAX_LENGTH) -> str:
    """``text`` as one line of printable characters: whitespace runs (newlines included) become
    one space, every other unprintable character (ESC, NUL, DEL, C1 controls, bidi and zero-width
    format characters, unassigned code points) its visible escape (``\\x1b``), and the result is
    cut to ``limit`` characters (ending in "…" when cut)."""
    joined = " ".join(str(text).split())
    line = "".join(char if char.isprintable() else _escape_char(char) for char in joined)
    return line if len(line) <= limit else line[: max(limit - len(CUT), 0)] + CUT


def terminal(text: object, limit: int = MAX_LENGTH) -> str:
    """For printing on the instructor's terminal."""
    return plain(text, limit)


def markdown(text: object, limit: int = MAX_LENGTH) -> str:
    """For inline Markdown: :func:`plain`, then every character that could start markup is
    backslash-escaped, so the text renders as itself (no tags, links, emphasis or headings)."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", plain(text, limit))
    return _MARKDOWN_BLOCK_START.sub(r"\1\\\2", escaped)


def html_text(text: object, limit: int = MAX_LENGTH) -> str:
    """For HTML element content or a quoted attribute value."""
    return html.escape(plain(text, limit), quote=True)


def gradebook_text(text: object, limit: int = 128) -> str:
    """For a name or email stored in nbgrader's gradebook. Formgrader shows it as text in its
    JavaScript views but inserts it unescaped into its formgrade page, so entities would show
    literally in one and markup would run in the other: :func:`plain` with ``< > &`` removed."""
    return _MARKUP.sub("", plain(text, limit))


def csv_cell(text: object, limit: int = MAX_LENGTH) -> str:
    """For a CSV cell a spreadsheet may open: a leading ``= + - @`` is quoted with ``'`` so the
    cell stays text, never a formula."""
    cell = plain(text, limit)
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def file_name(text: object, limit: int = MAX_FILE_NAME) -> str:
    """A file name derived from ``text``: only ``A-Z a-z 0-9 _ . @ -``, starting with a letter or
    digit, at most ``limit`` (>= 10) characters. Names that had to change carry a hash of the
    original, so two different inputs never share a file."""
    original = str(text)
    cleaned = _FILE_NAME_UNSAFE.sub("_", original).lstrip("._-@")
    if cleaned == original and 0 < len(cleaned) <= limit:
        return cleaned
    digest = hashlib.sha256(original.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    kept = cleaned[: max(limit - len(digest) - 1, 0)]
    return f"{kept}-{digest}" if kept else digest
