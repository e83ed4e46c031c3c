#!/usr/bin/env bash
# Load benchmark: kfunc against KServe's ModelServer on the same model, measured with wrk.
# Installs wrk (apt-get) and .venv if missing; every argument goes to scripts/bench/load.py
# (see --help, and docs/benchmarks.md). Results: a table here, JSON under .bench/.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v wrk >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  echo "[bench] installing wrk with apt-get" >&2
  $sudo apt-get install -y -qq wrk >/dev/null 2>&1 || {
    $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk >/dev/null
  }
fi
bash scripts/venv.sh torch,test
exec .venv/bin/python -m scripts.bench.load "$@"
