"""The warm-cache swap benchmark in a short mode: a real S3 server on loopback, a real kfunc server."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_short_swap_run_measures_cold_and_warm_loads_against_the_in_process_load() -> None:
    done = subprocess.run([sys.executable, "-m", "scripts.bench.swap_from_cache", "--models", "3", "--repeats", "1"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert 0 < result["warm_cache_load_s"] < result["cold_load_s"]  # the warm cache downloads nothing
    assert result["in_process_setup_s"] > 0
    assert result["ratio"] == pytest.approx(result["warm_cache_load_s"] / result["in_process_setup_s"])
    assert list(result["bar"]) == ["warm-cache load within 1.2x of the in-process @load"]
