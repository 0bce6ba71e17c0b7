# nbgrader settings every user of the hub shares: install as /etc/jupyter/nbgrader_config.py
# (the folder jupyterhub_config.py's NBGRADER_CONFIG_DIR names).
import os

c = get_config()  # noqa: F821 (nbgrader provides get_config)

#: The exchange: world-writable (0777, made so by setup-course.sh), one folder per course inside.
c.Exchange.root = os.environ.get("COURSE_EXCHANGE", "/srv/nbgrader/exchange")
c.CourseDirectory.course_id = os.environ.get("COURSE_ID", "dl101")
