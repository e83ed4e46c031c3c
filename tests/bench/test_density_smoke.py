"""The density benchmark in a short mode: real servers, a Zipf mix over ten models under a budget
that fits two of them, the single-model baseline, and the per-model memory comparison."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_short_density_run_reports_each_bar_from_measurements(tmp_path: Path) -> None:
    output = tmp_path / "density.json"
    done = subprocess.run([sys.executable, "-m", "scripts.bench.density", "--models", "10", "--fit", "0.2",
                           "--requests", "200", "--repeats", "1", "--processes", "2", "--output", str(output)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(output.read_text())
    (run,) = result["repeats"]
    assert run["errors"] == 0 and run["samples"] > 0
    assert run["budget_bytes"] == int(2 * result["measured_bytes_per_model"])
    assert run["max_resident_bytes"] <= run["budget_bytes"]
    assert 0 < run["hit_rate"] < 1 and run["evictions"] > 0
    assert 0 < run["requests_to_a_loaded_model"] < 1  # told apart by the answers' Server-Timing
    assert result["memory_per_model"]["ratio"] > 1  # one process per model costs more per model
    assert set(result["bars"]) == {"zero errors", "resident never over the budget",
                                   "p99 of a loaded model within 1.5x single-model", "model swap within 1.2x in-process load"}
