"""Notebooks of a submission: restore locked cells, execute in the sandbox, sanitise outputs.

The grades never come from here. The executed notebook is for the human grader (formgrader) and
the student's feedback; since it comes out of the sandbox it is treated as hostile: only plain
text, PNG images, streams and error summaries are kept, so nothing a student prints can run
script in the instructor's browser.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from grader import untrusted
from grader.runner import launch

SHIM = launch.RUNNER_DIR / "notebook_shim" / "grader"
WORK = "/sandbox/work"
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


def _clean_output(output: Any) -> Any | None:
    kind = output.get("output_type")
    if kind == "stream":
        return nbformat.v4.new_output(
            "stream", name=output.get("name", "stdout"), text=str(output.get("text", ""))[:MAX_TEXT]
        )
    if kind == "error":
        trace = "\n".join(str(line) for line in output.get("traceback", []))[-MAX_TEXT:]
        return nbformat.v4.new_output(
            "error",
            ename=str(output.get("ename", ""))[:200],
            evalue=str(output.get("evalue", ""))[:2000],
            traceback=[trace],
        )
    if kind in ("display_data", "execute_result"):
        data = output.get("data", {})
        kept: dict[str, str] = {}
        if isinstance(data.get("text/plain"), str):
            kept["text/plain"] = data["text/plain"][:MAX_TEXT]
        png = data.get("image/png")
        if isinstance(png, str):
            try:
                if base64.b64decode(png[:16] + "=" * (-len(png[:16]) % 4))[:8] == PNG_MAGIC:
                    kept["image/png"] = png
            except ValueError:
                pass
        if not kept:
            return None
        if kind == "execute_result":
            return nbformat.v4.new_output(
                "execute_result", data=kept, execution_count=output.get("execution_count")
            )
        return nbformat.v4.new_output("display_data", data=kept)
    return None


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


def execute(
    notebook: Any, assignment: str, name: str, lib_dir: Path, policy: launch.SandboxPolicy, timeout: float
) -> tuple[Any, str]:
    """Run ``notebook`` (already restored) in the sandbox; returns (notebook with outputs, problem or '')."""
    with tempfile.TemporaryDirectory(prefix="grader-nb-") as tmp:
        work = Path(tmp)
        shutil.copytree(lib_dir / "course_lib", work / "course_lib")
        folder = work / "assignments" / assignment
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / name)
        result_path = folder / "executed.ipynb"
        result_path.touch()
        for path in [work, *work.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o666)
        use_bwrap = policy.use_bwrap and launch.bwrap_path() is not None
        cell_timeout = str(int(max(timeout / 2, 30)))
        uid = str(launch.sandbox_uid() or "") if use_bwrap else ""
        if use_bwrap:
            # Nothing of the host is writable but the one result file (at most RLIMIT_FSIZE): the
            # notebook's folder is a size-limited tmpfs, course_lib and the notebook are read-only.
            inside = f"{WORK}/assignments/{assignment}"
            prefix = launch.bwrap_prefix(
                [
                    launch.Mount(work / "course_lib", f"{WORK}/course_lib"),
                    launch.Mount(SHIM, f"{WORK}/grader"),
                    launch.Mount(Path(), inside, tmpfs_bytes=policy.limits.scratch_bytes),
                    launch.Mount(folder / name, f"{inside}/{name}"),
                    launch.Mount(result_path, f"{inside}/executed.ipynb", writable=True),
                ],
                workdir=inside,
                scratch_bytes=policy.limits.scratch_bytes,
            )
            command = [*prefix, sys.executable, "-I", f"{launch.SANDBOX_RUNNER}/run_notebook.py"]
        else:
            shutil.copytree(SHIM, work / "grader")
            inside = str(folder)
            command = [sys.executable, "-I", str(launch.RUNNER_DIR / "run_notebook.py")]
        command += [
            policy.limits.as_json(),
            uid,
            f"{inside}/{name}",
            f"{inside}/executed.ipynb",
            cell_timeout,
        ]
        problem = _run(command, timeout, cwd=folder)
        if (
            not result_path.is_file()
            or result_path.is_symlink()
            or not 0 < result_path.stat().st_size <= MAX_NOTEBOOK_BYTES
        ):
            return notebook, problem or "the notebook produced no readable result"
        try:
            executed = nbformat.read(result_path, as_version=4)
        except Exception as error:  # nbformat raises several unrelated types on garbage
            return notebook, problem or f"the executed notebook could not be read: {error}"
        return sanitize_outputs(executed, notebook), problem


def _run(command: list[str], timeout: float, cwd: Path) -> str:
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            cwd=cwd,
            env=launch.child_environment(),
            start_new_session=True,
        )
        try:
            code: int | None = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            with contextlib.suppress(ProcessLookupError):  # whatever is left of the process group
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if code is None:
            return f"notebook execution timed out after {timeout:g} s"
        if code != 0:
            errors.seek(0)
            tail = errors.read()[-1500:].decode(errors="replace").strip().splitlines()
            last = untrusted.plain(tail[-1], 300) if tail else "no message"  # the student's stderr
            return f"notebook execution failed (exit {code}): {last}"
    return ""
