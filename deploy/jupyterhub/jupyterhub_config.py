# JupyterHub for one course that uses nbgrader's exchange: students fetch and submit from
# JupyterLab's Assignment List, instructors grade in Formgrader, served by a course service that
# runs as a shared grader account. See deploy/jupyterhub/README.md for the steps around it.
#
# Edit the course section below (or set the environment variables) and start the hub as root:
#     jupyterhub -f deploy/jupyterhub/jupyterhub_config.py
import os
import sys

c = get_config()  # noqa: F821 (JupyterHub provides get_config)

# ---- the course ------------------------------------------------------------------------------
COURSE = os.environ.get("COURSE_ID", "dl101")
INSTRUCTORS = os.environ.get("COURSE_INSTRUCTORS", "instructor1").split()
STUDENTS = os.environ.get("COURSE_STUDENTS", "student1 student2").split()
#: The Unix account that owns the course folder (gradebook, source, submissions).
GRADER_ACCOUNT = os.environ.get("COURSE_GRADER_ACCOUNT", f"grader-{COURSE}")
#: nbgrader's exchange (setup-course.sh makes it) and where its global configuration lives.
EXCHANGE = os.environ.get("COURSE_EXCHANGE", "/srv/nbgrader/exchange")
NBGRADER_CONFIG_DIR = os.environ.get("COURSE_NBGRADER_CONFIG_DIR", "/etc/jupyter")
#: What every server (students', the course service) finds in its environment.
SERVER_ENVIRONMENT = {
    "JUPYTER_CONFIG_PATH": NBGRADER_CONFIG_DIR,
    "COURSE_ID": COURSE,
    "COURSE_EXCHANGE": EXCHANGE,
}
#: The Python whose JupyterLab and nbgrader every user runs (all users must be able to read it).
PYTHON = os.environ.get("COURSE_PYTHON", sys.executable)
#: The hub's own state (database, cookie secret).
STATE_DIR = os.environ.get("HUB_STATE_DIR", "/srv/jupyterhub")

# ---- the hub -----------------------------------------------------------------------------------
c.JupyterHub.ip = os.environ.get("HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("HUB_INTERNAL_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('HUB_PROXY_API_PORT', '8001')}"
c.JupyterHub.db_url = f"sqlite:///{STATE_DIR}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{STATE_DIR}/jupyterhub_cookie_secret"

# Local Unix accounts (PAM); each user's server runs as that user in their home folder.
c.Authenticator.allowed_users = set(INSTRUCTORS + STUDENTS)
c.Authenticator.admin_users = set(INSTRUCTORS)
c.Spawner.cmd = [PYTHON, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.environment = SERVER_ENVIRONMENT

# ---- groups, the course service and who may use it --------------------------------------------
c.JupyterHub.load_groups = {
    f"formgrade-{COURSE}": {"users": INSTRUCTORS},  # may open Formgrader
    f"nbgrader-{COURSE}": {"users": STUDENTS},  # takes the course
}
c.JupyterHub.services = [
    {
        "name": COURSE,
        "url": f"http://127.0.0.1:{os.environ.get('COURSE_SERVICE_PORT', '9999')}",
        "command": [PYTHON, "-m", "jupyterhub.singleuser", "--ServerApp.default_url=/formgrader"],
        "user": GRADER_ACCOUNT,
        "cwd": os.path.expanduser(f"~{GRADER_ACCOUNT}"),
        "environment": SERVER_ENVIRONMENT,
        "oauth_no_confirm": True,
    }
]
c.JupyterHub.load_roles = [
    {
        "name": f"formgrade-{COURSE}",
        "groups": [f"formgrade-{COURSE}"],
        "scopes": [f"access:services!service={COURSE}", "list:services", f"read:services!service={COURSE}"],
    },
    # The course service reads group membership (nbgrader's JupyterHub authentication plugin).
    {"name": f"{COURSE}-service", "services": [COURSE], "scopes": ["read:users:groups", "list:users"]},
]

# Automation (scripts that create users or start servers): a service token with admin scopes.
if token := os.environ.get("HUB_ADMIN_TOKEN"):
    c.JupyterHub.services.append({"name": "course-admin", "api_token": token})
    c.JupyterHub.load_roles.append(
        {
            "name": "course-admin",
            "services": ["course-admin"],
            "scopes": [
                "admin:users",
                "admin:servers",
                "access:servers",
                "tokens",
                "list:services",
                "read:services",
            ],
        }
    )
