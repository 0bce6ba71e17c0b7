"""Our grading inside nbgrader's own pipelines (the grading folder's ``nbgrader_config.py`` registers them).

- :class:`SandboxAutograde` replaces nbgrader's ``Execute`` and ``SaveAutoGrades`` in ``nbgrader
  autograde`` (and formgrader's Autograde button): it regrades the student's ``submitted/`` folder
  with ``python -m grader autograde``'s batch, in a separate process (our sandboxed checks, the
  notebook executed in the sandbox, the gradebook, ``results/`` and ``exports/`` written as by the
  batch), and hands nbgrader the autograded notebook the batch wrote.
- :class:`StudentFeedback` runs first in ``nbgrader generate_feedback``: each task's check cell
  shows the student's view of its checks (hidden ones by name and score only; graders' autograded
  notebooks show every message), and a summary of the autograded tasks opens the page.

:func:`write_check_tables` puts a task's check table into its check cell (the batch calls it with
the graders' view).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from grader import render
from grader.checks.tasks import TASKS
from grader.results import CheckResult, SubmissionResult, task_scores

#: Seconds ``nbgrader autograde`` waits for one student's regrading.
REGRADE_TIMEOUT = 1800.0


def _check_cells(notebook: Any) -> dict[str, Any]:
    """{grade_id: cell} of the notebook's code grade cells (each task's check cell)."""
    cells = {}
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and isinstance(meta.get("grade_id"), str):
            cells[meta["grade_id"]] = cell
    return cells


def write_check_tables(notebook: Any, checks: Sequence[CheckResult], audience: render.Audience) -> Any:
    """Replace the outputs of each task's check cell with its table for ``audience``; a check
    cell of a task without results (none graded) is left empty."""
    cells = _check_cells(notebook)
    for cell in cells.values():
        cell.outputs = []
    for task in task_scores(checks):
        cell = cells.get(TASKS[task.task].grade_id) if task.task in TASKS else None
        if cell is not None:
            cell.outputs = [nbformat.v4.new_output("display_data", data=render.task_output(task, audience))]
    return notebook


def course_root(resources: dict[str, Any]) -> Path:
    """The grading folder of the notebook nbgrader is converting (``<root>/<stage>/<student>/<assignment>``)."""
    return Path(resources["metadata"]["path"]).resolve().parents[2]


def stored_result(root: Path, student: str, assignment: str) -> SubmissionResult | None:
    from grader import untrusted

    path = root / "results" / f"{untrusted.file_name(student)}.json"
    try:
        result = SubmissionResult.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return result if result.assignment == assignment else None


class StudentFeedback(Preprocessor):
    """``generate_feedback``: check cells show what the student may see; a summary opens the page."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        info = resources["nbgrader"]
        result = stored_result(course_root(resources), info["student"], info["assignment"])
        checks = result.checks if result is not None else []  # never the graders' view
        write_check_tables(nb, checks, render.Audience.STUDENT)
        if result is not None:
            summary = nbformat.v4.new_raw_cell(render.feedback_summary_html(result))
            summary.metadata["raw_mimetype"] = "text/html"
            nb.cells.insert(0, summary)
        css = resources.setdefault("inlining", {}).setdefault("css", [])
        css.append(render.CHECKS_CSS)  # after CSSHTMLHeaderPreprocessor, which replaces the list
        return nb, resources


#: MathJax 3's components for node (its es5/ folder, in part), installed by scripts/setup.sh.
MATHJAX = Path(sys.prefix) / "share" / "mathjax"
_TYPESET_SCRIPT = Path(__file__).with_name("typeset_math.js")
#: Seconds one feedback page may take to typeset (about one on a 2-core machine).
TYPESET_TIMEOUT = 120.0
#: The page's own MathJax scripts: nbconvert's configuration and its loader from a CDN.
_MATHJAX_SCRIPTS = re.compile(r"<script\b[^>]*mathjax[^>]*>.*?</script>", re.IGNORECASE | re.DOTALL)


#: Our nbconvert templates: ``base/mathjax.html.j2`` loads MathJax from the course's own Jupyter
#: server (``<venv>/share/course-static``, installed and served by scripts/setup.sh's configuration).
TEMPLATES = Path(__file__).with_name("templates")


def template_basedirs() -> list[str]:
    """``HTMLExporter.extra_template_basedirs`` for the grading folder: ours, then the folder of
    formgrader's and the feedback's templates (the course's setting replaces nbgrader's own)."""
    from nbgrader.server_extensions.formgrader import handlers

    return [str(TEMPLATES), handlers.template_path]


@functools.cache  # generate_feedback calls the hook once per student: ask node its version once
def math_typesetter() -> tuple[str, ...] | None:
    """The command that typesets a page's math (``typeset_math.js`` under node's permission model:
    it may read MathJax and the script only, write nothing, start no process), or None where node
    (20 or later, for that model) or MathJax is missing."""
    node = shutil.which("node")
    if node is None or not (MATHJAX / "node-main.js").is_file():
        return None
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
        major = int(version.strip().lstrip("v").split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if major < 20:
        return None
    permission = "--permission" if major >= 23 else "--experimental-permission"
    return (node, permission, f"--allow-fs-read={MATHJAX}/", f"--allow-fs-read={_TYPESET_SCRIPT}",
            str(_TYPESET_SCRIPT), str(MATHJAX))  # fmt: skip


def offline_math(page: str, typesetter: Sequence[str] | None) -> str:
    """``page`` without its MathJax scripts (which load MathJax from a CDN), its math typeset here
    into static SVG by ``typesetter`` (:func:`math_typesetter`). Where that is None or fails, the
    math stays readable TeX. Either way the page needs no network and runs no script."""
    page = _MATHJAX_SCRIPTS.sub("", page)
    if typesetter is None:
        return page
    try:
        done = subprocess.run(typesetter, input=page, capture_output=True, encoding="utf-8",
                              timeout=TYPESET_TIMEOUT, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        print(f"note: feedback math left as TeX ({error})", file=sys.stderr)
        return page
    if done.returncode != 0 or not done.stdout:
        print(f"note: feedback math left as TeX ({done.stderr.strip()[-300:]})", file=sys.stderr)
        return page
    return done.stdout


def feedback_written(assignment: str, student: str, notebooks: Sequence[str]) -> None:
    """``generate_feedback``'s post-convert hook: each feedback page gets its math offline."""
    typesetter = math_typesetter()
    for notebook in map(Path, notebooks):  # <root>/autograded/<student>/<assignment>/<name>.ipynb
        parts = notebook.resolve().parts
        page = Path(*parts[:-4], "feedback", *parts[-3:-1], notebook.stem + ".html")
        if page.is_file():
            page.write_text(offline_math(page.read_text(encoding="utf-8"), typesetter), encoding="utf-8")


class SandboxAutograde(Preprocessor):
    """``nbgrader autograde``: grade the submission with our sandboxed checks. nbgrader calls it
    per notebook; every course assignment has one (with several, each would regrade the whole
    submission: the same result, more time)."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        info = resources["nbgrader"]
        root = course_root(resources)
        student, assignment = info["student"], info["assignment"]
        self._regrade(root, student, assignment)
        graded = root / "autograded" / student / assignment / f"{info['notebook']}.ipynb"
        return nbformat.read(graded, as_version=4), resources

    def _regrade(self, root: Path, student: str, assignment: str) -> None:
        command = [sys.executable, "-m", "grader.autograde.nbgrader_hooks", str(root), assignment, student]
        process = subprocess.run(
            command,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=REGRADE_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        for line in process.stdout.splitlines():
            self.log.info("%s", line)
        if process.returncode != 0:
            raise RuntimeError(f"grading {student} failed:\n{process.stdout}{process.stderr[-3000:]}")


def regrade(root: Path, assignment: str, student: str) -> SubmissionResult:
    """Grade ``submitted/<student>/<assignment>`` of the grading folder ``root`` as the batch does
    (the upload is ``submitted/<student>``, as in ``python -m grader autograde ASSIGNMENT
    submitted``), even when its result is up to date: the button is an explicit request."""
    from grader.autograde.batch import BatchOptions, autograde
    from grader.sandbox.launch import SandboxPolicy

    # as `python -m grader autograde` without --require-sandbox: bubblewrap, else a logged warning
    policy = SandboxPolicy(allow_unsandboxed=True)
    options = BatchOptions(assignment, root, policy, force=True)
    with ThreadPoolExecutor(1) as executor:  # one upload: no worker process to start
        results = autograde([root / "submitted" / student], options, executor=executor)
    return next(r for r in results if r.student == student)


if __name__ == "__main__":
    graded = regrade(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
    print(f"{graded.student}: {graded.score:g}/{graded.max_score:g} ({graded.status.value})")
