#!/usr/bin/env bash
# Create .venv with CPU PyTorch and the project (editable, with dev tools). Idempotent and quick
# when everything is installed. TORCH_PIP_ARGS adds pip options for torch (e.g. a CPU index).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
fi
. .venv/bin/activate
if ! python -c "import torch" 2>/dev/null; then
  # Pinned on purpose: an unpinned torch pulls several GB of CUDA packages on Linux.
  pip install -q "torch==2.13.0" ${TORCH_PIP_ARGS:-}
fi
if ! python -c "import grader, nbgrader, pytest, ruff, jupyterhub" 2>/dev/null || ! cmp -s pyproject.toml .venv/.pyproject.installed; then
  pip install -q -e ".[dev]" && cp pyproject.toml .venv/.pyproject.installed  # again when pyproject.toml changes
fi
if ! command -v bwrap >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  # bubblewrap isolates student code during autograding; without it the grader says so loudly.
  (apt-get update -qq && apt-get install -y -qq bubblewrap) >/dev/null 2>&1 || echo "note: bubblewrap not installed"
fi
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  # The browser tests drive Debian's Chromium with Playwright (no browser download).
  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 || echo "note: chromium not installed"
fi
if ! command -v configurable-http-proxy >/dev/null && [ "$(id -u)" = 0 ] && command -v npm >/dev/null; then
  # JupyterHub's proxy, for the deploy/jupyterhub smoke test.
  npm install -g --silent configurable-http-proxy >/dev/null 2>&1 || echo "note: configurable-http-proxy not installed"
fi
web=.venv/share/course-static/course-mathjax
if { [ ! -f .venv/share/mathjax/node-main.js ] || [ ! -f "$web/tex-svg-full.js" ]; } && command -v npm >/dev/null; then
  # MathJax 3, twice: its components for node, with which feedback pages get their math typeset
  # into static SVG (grader/autograde/typeset_math.js), so they need no network and run no script;
  # and its browser bundle, which formgrader's pages load from the course's own Jupyter server
  # (grader/autograde/templates/base/mathjax.html.j2) instead of a CDN.
  tmp="$(mktemp -d)"
  parts="node-main.js startup.js core.js loader.js adaptors/liteDOM.js input/tex-full.js output/svg.js
         output/svg/fonts/tex.js ui/safe.js"
  if (cd "$tmp" && npm pack --silent mathjax@3.2.2 >/dev/null && tar xzf mathjax-3.2.2.tgz package/es5 package/LICENSE); then
    rm -rf .venv/share/mathjax "$web" && mkdir -p .venv/share/mathjax "$web/ui"
    for part in $parts; do
      mkdir -p ".venv/share/mathjax/$(dirname "$part")" && cp "$tmp/package/es5/$part" ".venv/share/mathjax/$part"
    done
    cp "$tmp/package/es5/tex-svg-full.js" "$web/" && cp "$tmp/package/es5/ui/safe.js" "$web/ui/"
    cp "$tmp/package/LICENSE" .venv/share/mathjax/ && cp "$tmp/package/LICENSE" "$web/"
  else
    echo "note: MathJax not installed (feedback and formgrader pages show math as TeX)"
  fi
  rm -rf "$tmp"
fi
if [ -d "$web" ]; then
  # Jupyter servers of this venv (JupyterLab's formgrader, JupyterHub's single-user servers) serve
  # it at <base_url>/static/course-mathjax/ (the venv's own server configuration).
  mkdir -p .venv/etc/jupyter
  printf '{"ServerApp": {"extra_static_paths": ["%s"]}}\n' "$(pwd)/.venv/share/course-static" \
    > .venv/etc/jupyter/jupyter_server_config.json
fi
