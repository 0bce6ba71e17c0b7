#!/usr/bin/env bash
# Prepare a machine for deploy/jupyterhub (run as root once, and again when the roster changes):
# Unix accounts, the exchange, the grader account's course folder, and nbgrader's global config.
#   COURSE_ID=dl101 COURSE_INSTRUCTORS="ann" COURSE_STUDENTS="bob cy" bash deploy/jupyterhub/setup-course.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
course="${COURSE_ID:-dl101}"
grader="${COURSE_GRADER_ACCOUNT:-grader-$course}"
exchange="${COURSE_EXCHANGE:-/srv/nbgrader/exchange}"
config_dir="${COURSE_NBGRADER_CONFIG_DIR:-/etc/jupyter}"

for user in $grader ${COURSE_INSTRUCTORS:-instructor1} ${COURSE_STUDENTS:-student1 student2}; do
  id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
  # Private homes (Debian's useradd makes them 0755): a student's fetched work and nbgrader's cache
  # of their submissions, and the grader account's collected submissions, are nobody else's to read.
  chmod 0700 "$(eval echo "~$user")"
done
mkdir -p "$exchange" "$config_dir" "${HUB_STATE_DIR:-/srv/jupyterhub}"
chmod 0777 "$exchange"                     # nbgrader's exchange: every user writes its own part
install -m 0644 "$here/nbgrader_config.py" "$config_dir/nbgrader_config.py"

home="$(eval echo "~$grader")"
install -d -o "$grader" -g "$grader" "$home/$course/source" "$home/.jupyter"
install -o "$grader" -g "$grader" -m 0644 "$here/course_nbgrader_config.py" "$home/$course/nbgrader_config.py"
install -o "$grader" -g "$grader" -m 0644 "$here/course_nbgrader_config.py" "$home/.jupyter/nbgrader_config.py"
for source in "$repo"/solutions/a*_*/; do
  name="$(basename "$source")"
  rm -rf "$home/$course/source/$name"
  cp -r "$source" "$home/$course/source/$name"
  # The released folder carries course_lib/ (given modules, stubs of the task files): nbgrader
  # releases it with the notebook, and nbgrader submit brings the student's task files back.
  cp -r "$repo/assignments/$name/course_lib" "$home/$course/source/$name/course_lib"
done
chown -R "$grader:$grader" "$home/$course"
echo "course $course ready: release with  sudo -u $grader nbgrader release_assignment <assignment>  in $home/$course"
