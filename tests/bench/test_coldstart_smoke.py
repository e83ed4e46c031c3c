"""The cold-start benchmark in its shortest mode: one start per scenario, the table of ratios."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_one_run_times_each_start_and_tables_its_ratio_to_the_floor() -> None:
    done = subprocess.run([sys.executable, "-m", "scripts.bench.coldstart", "--runs", "1",
                           "--only", "floor-gc-paused,kfunc-warm"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {line.split("|")[1].strip(): line.split("|") for line in done.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| start")}
    assert set(rows) == {"floor", "floor-gc-paused", "kfunc-warm"}
    assert float(rows["floor"][4]) == 1.0  # ratios are to the floor
    for row in rows.values():
        seconds = float(row[3])
        assert 0.1 < seconds < 60
        assert abs(float(row[4]) - seconds / float(rows["floor"][3])) < 0.02


def test_unknown_scenario_is_refused_with_the_choices() -> None:
    done = subprocess.run([sys.executable, "-m", "scripts.bench.coldstart", "--only", "kfunc-tepid"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "unknown scenario 'kfunc-tepid'" in done.stderr and "kfunc-warm" in done.stderr
