"""deploy/jupyterhub: a real JupyterHub on 127.0.0.1 with local Unix users, the course service,
and nbgrader's exchange. Through the hub's REST API a student's server is spawned and fetches the
released assignment from the Assignment List's own endpoint (what the Fetch button calls)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import open_python
import pytest

from grader import paths
from tests.servers import stop

RECIPE = paths.REPO / "deploy" / "jupyterhub"
COURSE, STUDENT, INSTRUCTOR = "dlsmoke", "hubstudent", "hubteacher"
GRADER = f"grader-{COURSE}"
ASSIGNMENT = "a1_fully_connected"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("unix-users"),  # useradd locks /etc/passwd: one such test at a time
    pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix users and runs servers as them (root only)"),
    pytest.mark.skipif(
        shutil.which("configurable-http-proxy") is None, reason="npm's configurable-http-proxy"
    ),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _api(url: str, token: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Authorization": f"token {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except urllib.error.URLError:
        return 0, b""  # nothing listens yet


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def course() -> Iterator[dict[str, str]]:
    """Users, exchange, config and the grader's course folder made by setup-course.sh, then the
    assignment generated and released by the grader account."""
    base = Path("/var/tmp") / f"hub-{secrets.token_hex(4)}"
    base.mkdir(parents=True)
    base.chmod(0o755)
    python = open_python.make(base / "venv")
    if python is None:
        pytest.skip("needs /usr/bin/python3.11 and packages in folders open to other users")
    env = {
        **os.environ,
        "COURSE_ID": COURSE,
        "COURSE_INSTRUCTORS": INSTRUCTOR,
        "COURSE_STUDENTS": STUDENT,
        "COURSE_EXCHANGE": str(base / "exchange"),
        "COURSE_NBGRADER_CONFIG_DIR": str(base / "etc"),
        "HUB_STATE_DIR": str(base / "hub"),
        "COURSE_PYTHON": str(python),
    }
    subprocess.run(["bash", str(RECIPE / "setup-course.sh")], env=env, check=True, capture_output=True)
    (base / "etc").chmod(0o755)
    home = Path(os.path.expanduser(f"~{GRADER}"))
    nbgrader = [str(python), "-m", "nbgrader"]
    grader_env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(home), "COURSE_ID": COURSE,
                  "COURSE_EXCHANGE": env["COURSE_EXCHANGE"]}  # fmt: skip
    # --force: the account's course folder outlives a run; release what source/ holds now.
    for command in (["generate_assignment", "--force"], ["release_assignment"]):
        done = subprocess.run([*nbgrader, *command, ASSIGNMENT], cwd=home / COURSE, env=grader_env, user=GRADER,
                              group=GRADER, extra_groups=[], capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
    try:
        yield env
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(Path(os.path.expanduser(f"~{STUDENT}")) / ASSIGNMENT, ignore_errors=True)


@pytest.fixture(scope="module")
def hub(course: dict[str, str]) -> Iterator[tuple[str, str]]:
    """A running hub: (its public URL, an admin service token)."""
    token = secrets.token_hex(16)
    port = _free_port()
    env = {**course, "HUB_ADMIN_TOKEN": token, "HUB_PORT": str(port), "HUB_INTERNAL_PORT": str(_free_port()),
           "HUB_PROXY_API_PORT": str(_free_port()), "COURSE_SERVICE_PORT": str(_free_port())}  # fmt: skip
    state = Path(course["HUB_STATE_DIR"])
    log = (state / "hub.log").open("wb")
    command = [course["COURSE_PYTHON"], "-m", "jupyterhub", "-f", str(RECIPE / "jupyterhub_config.py"),
               "--JupyterHub.authenticator_class=dummy"]  # fmt: skip
    process = subprocess.Popen(command, cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _api(f"{url}/hub/api/", token)[0] == 200, 90, "the hub to answer")
        yield url, token
    finally:
        stop(process)
        log.close()
        print((state / "hub.log").read_text(errors="replace")[-3000:])


def test_a_student_server_fetches_the_released_assignment(hub: tuple[str, str]):
    url, token = hub
    status, _ = _api(f"{url}/hub/api/users/{STUDENT}/server", token, "POST", b"{}")
    assert status in (201, 202), status

    def ready() -> bool:
        user = json.loads(_api(f"{url}/hub/api/users/{STUDENT}", token)[1])
        return bool(user.get("servers", {}).get("", {}).get("ready"))

    _wait(ready, 120, "the student's server")
    listing = f"{url}/user/{STUDENT}/assignments?course_id={COURSE}"
    status, body = _api(listing, token)
    assert status == 200, body
    released = json.loads(body)["value"]
    assert [(a["assignment_id"], a["status"]) for a in released] == [(ASSIGNMENT, "released")]

    query = f"assignment_id={ASSIGNMENT}&course_id={COURSE}".encode()
    status, body = _api(f"{url}/user/{STUDENT}/assignments/fetch", token, "POST", query)
    assert status == 200, body
    fetched = Path(os.path.expanduser(f"~{STUDENT}")) / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert fetched.is_file()
    assert (fetched.parent / "course_lib" / "layers.py").is_file(), "the released folder carries course_lib/"
    assert fetched.stat().st_uid == int(subprocess.check_output(["id", "-u", STUDENT]))

    services = json.loads(_api(f"{url}/hub/api/services", token)[1])
    assert COURSE in services


def _user_token(url: str, admin_token: str, user: str) -> str:
    status, body = _api(f"{url}/hub/api/users/{user}/tokens", admin_token, "POST", b'{"note": "smoke test"}')
    assert status in (200, 201), body
    return json.loads(body)["token"]


def test_formgrader_opens_for_instructors_only(hub: tuple[str, str]):
    url, token = hub
    formgrader = f"{url}/services/{COURSE}/formgrader"
    teacher, student = _user_token(url, token, INSTRUCTOR), _user_token(url, token, STUDENT)
    _wait(lambda: _api(formgrader, teacher)[0] == 200, 90, "the course service to serve formgrader")
    assert b"formgrade" in _api(formgrader, teacher)[1].lower()
    assert _api(formgrader, student)[0] == 403
