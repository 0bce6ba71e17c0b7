"""Execute one notebook inside the sandbox: ``run_notebook.py LIMITS UID IN OUT CELL_TIMEOUT``.

Confines itself first (unprivileged uid, rlimits), then runs every cell with nbclient and an
ipykernel that is started inside the same sandbox; errors are kept in the outputs so graders
see them. The result is written to OUT; the grader treats it as untrusted data.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from confine import confine


def main() -> None:
    limits, uid, source, target, cell_timeout = sys.argv[1:6]
    confine(limits, uid)
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(source, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=int(cell_timeout),
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": os.path.dirname(source)}},
    )
    try:
        client.execute()
    finally:
        nbformat.write(notebook, target)


if __name__ == "__main__":
    main()
