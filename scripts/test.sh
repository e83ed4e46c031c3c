#!/usr/bin/env bash
# Run kfunc's test suite: creates .venv, installs kfunc with its test extras, runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh "torch,transformers,otlp,s3,deploy,test"
# wrk drives the benchmark smoke tests; best effort (they skip with a message without it).
if ! command -v wrk >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get install -y -qq wrk || (apt-get update -qq && apt-get install -y -qq wrk)) >/dev/null 2>&1 || true
fi
exec .venv/bin/python -m pytest "$@"
