# The grader account's course folder settings: install as ~grader-<course>/<course>/nbgrader_config.py
# and as ~grader-<course>/.jupyter/nbgrader_config.py (formgrader finds the course through it).
import os

c = get_config()  # noqa: F821 (nbgrader provides get_config)

course = os.environ.get("COURSE_ID", "dl101")
c.CourseDirectory.course_id = course
c.CourseDirectory.root = os.path.expanduser(f"~/{course}")
c.Exchange.root = os.environ.get("COURSE_EXCHANGE", "/srv/nbgrader/exchange")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "__pycache__", "*.pyc"]
