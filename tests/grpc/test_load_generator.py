"""scripts/bench/grpc_load.py against a real server: a short closed-loop run answers its JSON line."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
@pytest.mark.parametrize("typed", [False, True], ids=["raw", "typed"])
def test_grpc_load_reports_rate_and_latency(echo, typed):
    command = [sys.executable, "-m", "scripts.bench.grpc_load", "--target", echo.grpc, "--model", "echo",
               "--input", "x", "-c", "2", "-d", "0.5", "--warmup", "0", *(["--typed"] if typed else [])]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["requests"] > 0 and report["errors"] == 0 and report["rps"] > 0
    assert 0 < report["p50_ms"] <= report["p99_ms"]
