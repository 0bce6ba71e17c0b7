#!/usr/bin/env bash
# Set up (first run only), then grade the bundled sample class end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
python -m grader demo "$@"
