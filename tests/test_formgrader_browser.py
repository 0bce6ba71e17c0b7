"""The instructor's flow in a real browser: JupyterLab's Formgrader on a small graded course.

Debian's Chromium (``/usr/bin/chromium``, installed by scripts/setup.sh) driven by Playwright;
no browser is downloaded. Two students (alice: the reference, bob: one bug) are graded with a
roster; JupyterLab serves the grading folder on 127.0.0.1 with a token. The test walks
Formgrader: the assignment and students with names and times, a submission with its check
tables and its math typeset (bob's written answer holds a formula; MathJax comes from JupyterLab's
own server), a manual grade and comment saved, Autograde on one student, Generate and Release
Feedback; the released feedback holds the check tables, the manual grade and the comment.
A screenshot of every step is saved in the test's folder (``screenshots/``).
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader import paths
from grader.autograde.batch import BatchOptions, autograde
from grader.autograde.roster import read_roster
from grader.demo import ASSIGNMENT, _student_files, _zip, layers_with_relu_bug, write_roster
from grader.sandbox.launch import SandboxPolicy, bwrap_path
from tests.servers import stop

CHROMIUM = Path("/usr/bin/chromium")
COMMENT = "Clear argument; say what the gradient is once the margin is met."
TIMEOUT_MS = 180_000
#: The task bob's bug costs points in: its check table's title.
BOBS_TASK = re.compile(r"ReLU\.backward: [0-3](\.\d+)?/4 points")
#: The end of bob's written answer, after its formula.
MATH_ANSWER = "where the margin is met"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"), reason="Chromium is not installed (scripts/setup.sh)"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _with_math_answer(notebook: bytes) -> bytes:
    """The notebook with its first written answer holding a formula (as students write them)."""
    content = json.loads(notebook)
    answer = next(
        cell
        for cell in content["cells"]
        if cell["cell_type"] == "markdown" and cell.get("metadata", {}).get("nbgrader", {}).get("solution")
    )
    answer["source"] = f"The gradient is $\\frac{{\\partial L}}{{\\partial x}} = 2x$ {MATH_ANSWER}."
    return json.dumps(content).encode()


def _graded_course(folder: Path) -> Path:
    """alice (the reference) and bob (ReLU's gradient on x >= 0; a formula in a written answer),
    graded with the demo's roster."""
    uploads = folder / "uploads"
    uploads.mkdir(parents=True)
    buggy = _student_files(paths.SOLUTION_LIB)
    buggy["course_lib/layers.py"] = layers_with_relu_bug().encode()
    notebook = f"assignments/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    buggy[notebook] = _with_math_answer(buggy[notebook])
    for student, files in {"alice": _student_files(paths.SOLUTION_LIB), "bob": buggy}.items():
        (uploads / f"{student}.zip").write_bytes(_zip(files))
    roster, _ = read_roster(write_roster(folder / "roster.csv"))
    options = BatchOptions(
        ASSIGNMENT,
        folder / "course",
        SandboxPolicy(use_bwrap=bwrap_path() is not None),
        execute_notebooks=False,
        roster=tuple(roster),
    )
    with ThreadPoolExecutor(1) as executor:
        autograde(sorted(uploads.iterdir()), options, executor=executor)
    return options.out


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    """(base URL with the token cookie to set, the grading folder, the screenshot folder)."""
    folder = tmp_path_factory.mktemp("formgrader")
    course = _graded_course(folder)
    home, port, token = folder / "home", _free_port(), secrets.token_hex(16)
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter")}
    command = [
        sys.executable, "-m", "jupyter", "lab", "--allow-root", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
    ]  # fmt: skip
    log = (folder / "lab.log").open("w")
    server = subprocess.Popen(command, cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, (folder / "lab.log").read_text()
            time.sleep(0.5)
        shots = folder / "screenshots"
        shots.mkdir()
        yield f"{base}/lab?token={token}", course, shots
    finally:
        stop(server)
        log.close()


def _written_answer(course: Path) -> str:
    from grader.autograde.gradebook import db_url, written_answers

    return written_answers(db_url(course), ASSIGNMENT)["bob"][0].grade_id


def _manual(course: Path, grade_id: str) -> tuple[float | None, str]:
    from grader.autograde.gradebook import db_url, written_answers

    answer = next(a for a in written_answers(db_url(course), ASSIGNMENT)["bob"] if a.grade_id == grade_id)
    return answer.points, answer.comment


def _released_feedback(course: Path, student: str) -> Path:
    from nbgrader.utils import notebook_hash

    secret = (course / "submitted" / student / ASSIGNMENT / "submission_secret.txt").read_text()
    return (
        course
        / "exchange"
        / "dl-course"
        / "feedback"
        / f"{notebook_hash(secret=secret, notebook_id=ASSIGNMENT)}.html"
    )


def _modal_succeeds(page, shot: str, shots: Path) -> None:
    modal = page.locator("#success-modal, #error-modal")
    modal.first.wait_for(state="visible", timeout=TIMEOUT_MS)
    page.wait_for_timeout(500)  # the modal's fade-in
    page.screenshot(path=shots / shot)
    assert page.locator("#success-modal").is_visible(), page.locator("#error-modal").inner_text()
    page.locator("#success-modal .modal-footer button").click()
    page.locator("#success-modal").wait_for(state="detached", timeout=10_000)


def test_instructor_flow_in_formgrader(lab: tuple[str, Path, Path]):
    from playwright.sync_api import expect, sync_playwright

    login, course, shots = lab
    base = login.split("/lab?")[0]
    answer = _written_answer(course)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        elsewhere: list[str] = []  # requests to any other server than JupyterLab's

        def note_request(request) -> None:
            if request.url.startswith(("http:", "https:")) and not request.url.startswith(base):
                elsewhere.append(request.url)

        page.on("request", note_request)
        page.goto(login)
        page.locator("#jp-main-dock-panel").wait_for()
        page.screenshot(path=shots / "01-jupyterlab.png")

        page.goto(f"{base}/formgrader/manage_assignments")
        row = page.locator("tr", has_text=ASSIGNMENT)
        expect(row.locator(".generate-feedback a")).to_be_visible()
        expect(row).to_contain_text("released")  # not "draft"
        page.screenshot(path=shots / "02-assignments.png")

        page.goto(f"{base}/formgrader/manage_submissions/{ASSIGNMENT}")
        for name in ("Archer, Alice", "Baker, Bob"):
            expect(page.get_by_text(name)).to_be_visible()
        times = page.locator("td.timestamp").all_inner_texts()
        assert len(times) == 2 and "None" not in times, times
        page.screenshot(path=shots / "03-submissions.png")

        page.get_by_text("Baker, Bob").click()
        page.locator("a[href*='/formgrader/submissions/']").first.click()
        expect(page.get_by_text(BOBS_TASK).first).to_be_visible()
        expect(page.get_by_text("hidden check").first).to_be_visible()
        page.get_by_text(BOBS_TASK).first.scroll_into_view_if_needed()
        page.screenshot(path=shots / "04-submission-check-tables.png")
        # the notebook's math is typeset by MathJax from this server, and formgrader's scripts
        # (which wait for MathJax's startup signal) run without an error
        page.locator(".text_cell_render mjx-container").first.wait_for(timeout=TIMEOUT_MS)
        page.wait_for_timeout(1000)  # formgrader scrolls to the selected grade cell once MathJax is done
        page.locator(".text_cell_render mjx-container[display='true']").first.scroll_into_view_if_needed()
        page.screenshot(path=shots / "04b-submission-math.png")
        assert page.locator(".text_cell_render mjx-container").count() > 20
        bobs_answer = page.locator(".text_cell_render", has_text=MATH_ANSWER)
        assert bobs_answer.locator("mjx-container").count() == 1 and "\\frac" not in bobs_answer.inner_text()
        assert page.locator(".output_area mjx-container").count() == 0  # check tables are never typeset
        assert errors == [] and elsewhere == [], (errors, elsewhere)

        page.locator(f"input.score#{answer}").fill("1.5")
        page.locator(f"input.score#{answer}").press("Tab")
        page.locator(f"textarea#{answer}-comment").fill(COMMENT)
        page.locator(f"textarea#{answer}-comment").press("Tab")
        deadline = time.monotonic() + 30
        while _manual(course, answer) != (1.5, COMMENT):
            assert time.monotonic() < deadline, _manual(course, answer)
            time.sleep(0.5)
        page.locator(f"textarea#{answer}-comment").scroll_into_view_if_needed()
        page.screenshot(path=shots / "05-manual-grade-saved.png")

        before = (course / "results" / "bob.json").stat().st_mtime_ns
        page.goto(f"{base}/formgrader/manage_submissions/{ASSIGNMENT}")
        page.locator("tr", has_text="Baker, Bob").locator(".autograde a").click()
        _modal_succeeds(page, "06-autograde-bob.png", shots)
        assert (course / "results" / "bob.json").stat().st_mtime_ns > before, "Autograde did not regrade bob"
        assert _manual(course, answer) == (1.5, COMMENT), "Autograde lost the manual grade"
        # the regrade rewrote every export from the gradebook: the manual grade is in each
        with (course / "exports" / "grades.csv").open(newline="") as handle:
            row = next(r for r in csv.DictReader(handle) if r["student"] == "bob")
        assert row["manual"] == "1.5" and float(row["total"]) == float(row["autograded"]) + 1.5
        gradescope = json.loads((course / "exports" / "gradescope" / "bob" / "results.json").read_text())
        assert {"name": f"written answer: {answer}", "score": 1.5, "output": COMMENT}.items() <= next(
            t for t in gradescope["tests"] if t["name"].startswith("written answer")
        ).items()

        page.goto(f"{base}/formgrader/manage_assignments")
        page.locator("tr", has_text=ASSIGNMENT).locator(".generate-feedback a").click()
        _modal_succeeds(page, "07-generate-feedback.png", shots)
        page.locator("tr", has_text=ASSIGNMENT).locator(".release-feedback a").click()
        _modal_succeeds(page, "08-release-feedback.png", shots)

        released = _released_feedback(course, "bob")
        text = released.read_text()
        assert BOBS_TASK.search(text) and "hidden check" in text and "Autograded checks:" in text
        assert "Score: 1.5 / 2.0" in text and COMMENT in text
        page.route("http*://**", lambda route: route.abort())  # the feedback needs no network
        page.goto(released.as_uri())
        expect(page.get_by_text(COMMENT)).to_be_visible()
        page.screenshot(path=shots / "09-released-feedback-top.png")
        page.get_by_text(BOBS_TASK).first.scroll_into_view_if_needed()
        page.screenshot(path=shots / "10-released-feedback-checks.png")
        browser.close()
