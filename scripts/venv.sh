#!/usr/bin/env bash
# Create .venv (once) and install kfunc with the given extras; sourced by demo.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-torch}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=".venv/.kfunc-installed-$(cat pyproject.toml | sha1sum | cut -c1-12)-${extras//,/_}"
if [ ! -f "$stamp" ]; then
  # torch first and pinned: the CPU wheel on these machines; any other spec pulls GBs of CUDA.
  .venv/bin/pip install -q torch==2.13.0
  .venv/bin/pip install -q -e ".[${extras}]"
  touch "$stamp"
fi
