#!/usr/bin/env bash
# The whole test suite: lint, release in sync, stored references reproduce, pytest (incl. slow honesty tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
ruff check .
python -m grader release --check
python -m grader references --check
python -m pytest -q -n 2 --dist loadgroup "$@"
