"""Hand-made uploads (hostile zips and folders) and notebook edits used by the catalog."""

from __future__ import annotations

import json
import stat
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grader import paths
from tests.attacks import payloads
from tests.attacks.build import ASSIGNMENT, Tree, payload_code, write_zip

NOTEBOOK = f"assignments/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"


# --------------------------------------------------------------------------------------------
# Uploads
# --------------------------------------------------------------------------------------------


def zip_traversal(tree: Tree, base: Path) -> Path:
    """Members that point outside the extraction folder, absolute paths, symlink members, and a
    manifest whose timestamp is not a date."""
    target = base.with_suffix(".zip")
    write_zip(tree, target, {"assignment": ASSIGNMENT, "timestamp": "99999-99-99T99:99 not a date"})
    escape = "tmp/redteam-zip-escape"
    with zipfile.ZipFile(target, "a") as bundle:
        for name in (
            f"../../../../../../{escape}",
            f"/{escape}-absolute",
            f"course_lib/../../../../../{escape}-nested",
            f"assignments/{ASSIGNMENT}/../../../../../../{escape}.ipynb",
            "course_lib\\..\\..\\redteam-backslash.py",
            f"assignments/{ASSIGNMENT}/\x1b]0;pwned\x07\n- PASS all (66/66)\x1b[2J.ipynb",
        ):
            bundle.writestr(name, "ESCAPED")
        for name, link in (
            ("course_lib/fc_net.py", str(paths.SOLUTION_LIB / "fc_net.py")),
            ("course_lib/optim.py", "../../../../../../../" + str(paths.SOLUTION_LIB / "optim.py")),
        ):
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, link)
    return target


def zip_bombs(tree: Tree, base: Path) -> Path:
    """A 256 MB member that compresses to 256 kB, and a member whose header understates its size."""
    target = base.with_suffix(".zip")
    honest = {k: v for k, v in tree.items() if k != "course_lib/fc_net.py"}
    manifest = {"assignment": ASSIGNMENT, "timestamp": "2026-11-20T09:30:00+00:00"}
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in honest.items():
            if name == "course_lib/optim.py":
                continue
            bundle.writestr(name, data)
        bundle.writestr("manifest.json", json.dumps(manifest))
        with bundle.open("course_lib/optim.py", "w", force_zip64=True) as sink:
            block = b"\0" * (1 << 20)
            for _ in range(256):
                sink.write(block)
        liar = tree["course_lib/fc_net.py"] + b"\n# padding\n" + b"#" * (20 << 20)
        bundle.writestr("course_lib/fc_net.py", liar)
    _understate_size(target, "course_lib/fc_net.py", 4096)
    return target


def _understate_size(archive: Path, member: str, size: int) -> None:
    """Rewrite the uncompressed size of ``member`` in both its headers (local and central)."""
    data = bytearray(archive.read_bytes())
    # (signature, offset of the name's length, of the name, of the uncompressed size)
    for signature, length_at, name_at, size_at in ((b"PK\x03\x04", 26, 30, 22), (b"PK\x01\x02", 28, 46, 24)):
        header = data.find(signature)
        while header != -1:
            name_length = struct.unpack_from("<H", data, header + length_at)[0]
            if data[header + name_at : header + name_at + name_length] == member.encode():
                struct.pack_into("<I", data, header + size_at, size)
            header = data.find(signature, header + 4)
    archive.write_bytes(bytes(data))


def zip_too_many_members(tree: Tree, base: Path) -> Path:
    target = base.with_suffix(".zip")
    write_zip(tree, target)
    with zipfile.ZipFile(target, "a") as bundle:
        for i in range(600):
            bundle.writestr(f"junk/{i}.txt", "x")
    return target


def not_a_zip(tree: Tree, base: Path) -> Path:
    """Garbage named .zip: a zip header and nothing that parses."""
    target = base.with_suffix(".zip")
    target.write_bytes(b"PK\x03\x04 not really a zip" + bytes(range(256)) * 8)
    return target


def folder_with_symlinks(tree: Tree, base: Path) -> Path:
    """A folder upload whose task files are symlinks into the solutions, and whose notebook
    folder is a symlink to the solution notebooks."""
    (base / "course_lib").mkdir(parents=True)
    (base / "course_lib" / "layers.py").symlink_to(paths.SOLUTION_LIB / "layers.py")
    (base / "course_lib" / "fc_net.py").symlink_to(paths.SOLUTION_LIB / "fc_net.py")
    (base / "course_lib" / "optim.py").write_bytes(tree["course_lib/optim.py"])
    (base / "assignments").mkdir()
    (base / "assignments" / ASSIGNMENT).symlink_to(paths.SOLUTIONS / ASSIGNMENT, target_is_directory=True)
    return base


def folder_with_symlinked_dir(tree: Tree, base: Path) -> Path:
    """A folder upload whose whole ``course_lib`` is a symlink to the solutions' folder."""
    base.mkdir(parents=True)
    (base / "course_lib").symlink_to(paths.SOLUTION_LIB, target_is_directory=True)
    return base


# --------------------------------------------------------------------------------------------
# Notebooks
# --------------------------------------------------------------------------------------------


def _code_cell(source: str, cell_id: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": {},
        "outputs": [],
        "source": source,
    }


def _by_grade_id(nb: dict[str, Any], grade_id: str) -> dict[str, Any]:
    return next(
        c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id
    )


def not_json(nb: dict[str, Any], params: Mapping[str, Any]) -> bytes:
    return b'{"cells": [ this is not JSON \xff\xfe'


def tamper_grade_cells(nb: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Edit locked cells and nbgrader metadata every way a student might try."""
    cells = nb["cells"]
    first = _by_grade_id(nb, "Linear-forward")
    first["source"] = 'print("PASS Linear.forward 5/5")'
    first["metadata"]["nbgrader"]["points"] = 1000
    first["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "Linear.forward: 5/5 public points\n"}
    ]
    second = _by_grade_id(nb, "Linear-backward")
    second["metadata"]["nbgrader"].update(grade=False, locked=False, checksum="0" * 32)
    cells.remove(_by_grade_id(nb, "svm_loss"))
    relu = _by_grade_id(nb, "ReLU-forward")
    relu["metadata"]["nbgrader"]["grade_id"] = "Linear-forward"
    duplicate = json.loads(json.dumps(_by_grade_id(nb, "softmax_loss")))
    duplicate["id"] = "duplicate-grade-cell"
    cells.append(duplicate)
    bonus = _code_cell("print('bonus')", "bonus-cell")
    bonus["metadata"]["nbgrader"] = {
        "grade": True, "grade_id": "bonus", "locked": True, "points": 100, "schema_version": 3,
        "solution": False, "task": False, "cell_type": "code", "checksum": "deadbeef",
    }  # fmt: skip
    cells.append(bonus)
    answer = _by_grade_id(nb, "q_loss_comparison")
    answer["metadata"]["nbgrader"]["points"] = 500
    answer["cell_type"] = "code"
    answer.update(outputs=[], execution_count=None)
    weird = _code_cell("1 + 1", "weird-metadata")
    weird["metadata"]["nbgrader"] = "not a dict"
    cells.insert(3, weird)
    nb["metadata"]["kernelspec"] = {"name": "bash", "display_name": "evil", "language": "bash"}
    nb["metadata"]["nbgrader"] = {"grade": True, "points": 1e9}
    return nb


def run_code(*functions: Any) -> Any:
    """A notebook edit that appends one code cell per payload (which runs it with PARAMS)."""

    def edit(nb: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        for i, function in enumerate(functions):
            source = payload_code([function], params) + f"\n{function.__name__}()\n"
            nb["cells"].append(_code_cell(source, f"attack-{i}"))
        return nb

    return edit


def tamper_and_probe(nb: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Tampered grade cells and metadata, script markup, then probe cells run by the kernel
    with the notebook's privileges (filling the disk, the fork bomb last)."""
    nb = tamper_grade_cells(script_in_cells(nb, params), params)
    probes = run_code(
        payloads.nb_read_secrets,
        payloads.nb_write_outside,
        payloads.nb_open_network,
        payloads.nb_rich_outputs,
        payloads.nb_orphan,
        payloads.nb_fill_scratch,
        payloads.nb_fork_bomb,
    )
    return probes(nb, params)


def script_in_cells(nb: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Markup that would run script in formgrader: in an answer cell, a raw cell, an attachment."""
    import base64

    answer = _by_grade_id(nb, "q_loss_comparison")
    answer["source"] = (
        "My answer <script>alert('xss-md')</script> <img src=x onerror=\"alert('xss-img')\"> "
        "[click](javascript:alert('xss-link'))"
    )
    svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert('xss-svg')</script></svg>"
    nb["cells"].append(
        {
            "cell_type": "markdown",
            "id": "attachment-cell",
            "metadata": {},
            "source": "![x](attachment:x.svg)<iframe src=\"javascript:alert('xss-iframe')\"></iframe>",
            "attachments": {"x.svg": {"image/svg+xml": base64.b64encode(svg).decode()}},
        }
    )
    nb["cells"].append(
        {
            "cell_type": "raw",
            "id": "raw-html",
            "metadata": {"format": "text/html", "raw_mimetype": "text/html"},
            "source": "<script>alert('xss-raw')</script>",
        }
    )
    return nb
