"""Execute a notebook in a session of the sandbox: a kernel forked from the warm zygote.

Imported inside the sandbox by ``child.py`` (as the plain module ``kernel``). The session that
receives a notebook forks an IPython kernel from itself, so the kernel starts with torch, the
given modules and (in the sandbox host) IPython, matplotlib and scikit-learn already imported,
and drives it with nbclient over loopback. The kernel runs as the session's uid, with its
limits, in a fresh folder laid out like the course (``assignments/<assignment>/`` as its working
directory, the notebook shim as ``grader``). The executed notebook goes back to the grader as
bytes, which it treats as hostile data.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from spec import NotebookJob

SHIM = Path(__file__).resolve().parent / "notebook_shim" / "grader"
#: Seconds for the forked kernel to answer its first request.
READY_TIMEOUT = 60.0


def execute(job: NotebookJob) -> tuple[bytes, str]:
    """Run every cell of ``job.notebook``; returns the notebook with its outputs (JSON bytes) and
    what stopped it early ('' when every cell ran; errors in cells are outputs, not problems)."""
    import nbformat
    from jupyter_client.connect import write_connection_file

    notebook = nbformat.reads(job.notebook, as_version=4)
    work = Path(tempfile.mkdtemp(prefix="notebook-"))
    shutil.copytree(SHIM, work / "grader")
    folder = work / "assignments" / job.assignment
    folder.mkdir(parents=True)
    connection, _ = write_connection_file(str(work / "kernel.json"), ip="127.0.0.1")
    pid = os.fork()
    if pid == 0:
        _serve_kernel(connection, folder)
    try:
        problem = asyncio.run(_run_cells(notebook, connection, pid, job.cell_timeout))
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        shutil.rmtree(work, ignore_errors=True)  # without a sandbox, nobody else would
    return nbformat.writes(notebook).encode(), problem


def _serve_kernel(connection: str, folder: Path) -> None:
    """The forked child: become an IPython kernel on ``connection``; never returns."""
    code = 1
    try:
        os.closerange(3, 1 << 16)  # nothing of the session's (its socket to the grader) stays open
        os.chdir(folder)
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        app.initialize(["-f", connection, "--HistoryManager.enabled=False"])
        app.start()
        code = 0
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


async def _run_cells(notebook: Any, connection: str, pid: int, cell_timeout: int) -> str:
    """Execute ``notebook``'s cells in place on the kernel at ``connection`` (process ``pid``)."""
    from jupyter_client.asynchronous import AsyncKernelClient
    from nbclient import NotebookClient

    class ForkedKernelClient(AsyncKernelClient):
        async def is_alive(self) -> bool:  # the kernel is this process's child
            try:
                return os.waitpid(pid, os.WNOHANG) == (0, 0)
            except ChildProcessError:  # collected by an earlier call
                return False

    client = NotebookClient(notebook, timeout=cell_timeout, allow_errors=True, kernel_name="python3")
    client.kc = ForkedKernelClient(connection_file=connection)
    client.kc.load_connection_file()
    client.kc.start_channels(hb=False)
    try:
        await client.kc.wait_for_ready(timeout=READY_TIMEOUT)
        client.reset_execution_trackers()
        for index, cell in enumerate(notebook.cells):
            await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
    except Exception as error:  # the kernel died, a cell timed out ...: the outputs so far are kept
        return f"{type(error).__name__}: {error}".strip().splitlines()[-1]
    finally:
        client.kc.stop_channels()
    return ""
