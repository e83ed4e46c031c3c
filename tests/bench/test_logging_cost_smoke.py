"""The payload-logging benchmark in its shortest mode: both servers and the sink start, events
reach the sink, the report has its ratios and bars."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install -y wrk)")
@pytest.mark.parametrize("encoding", ["batch", "binary"])
def test_logging_cost_short_run(encoding):
    done = subprocess.run([sys.executable, "-m", "scripts.bench.logging_cost", "--workers", "1", "-c", "4",
                           "-d", "1", "--repeats", "1", "--encoding", encoding],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["off"]["errors"] == report["on"]["errors"] == 0
    assert report["events_per_s_delivered"] > 0 and report["logger_events"]["sent"] > 0
    assert [bar["bar"] for bar in report["bars"]] == ["req/s on/off >= 0.9", "p99 on/off <= 1.15"]
    assert len(report["round_ratios"]) == 1
