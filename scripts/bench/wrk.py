"""Run the ``wrk`` load generator against one URL and read back its JSON summary."""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_SCRIPT = Path(__file__).with_name("post.lua")
MARKER = "WRK_JSON "
MAX_THREADS = 2


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed no summary."""


@dataclass(frozen=True)
class WrkRun:
    """One wrk run: throughput, latency percentiles in milliseconds, failed requests."""

    requests: int
    requests_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int


def wrk_path() -> str:
    """The wrk executable, or an error saying how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise WrkError("wrk is not installed: run scripts/bench/run.sh (it installs wrk with apt-get) "
                       "or `apt-get install -y wrk`")
    return path


def run_wrk(url: str, body_file: Path, content_type: str, connections: int, duration_s: int) -> WrkRun:
    """POST ``body_file`` to ``url`` over ``connections`` keep-alive connections for ``duration_s``."""
    command = [wrk_path(), "-t", str(min(connections, MAX_THREADS)), "-c", str(connections),
               "-d", f"{duration_s}s", "--latency", "-s", str(LUA_SCRIPT), url,
               "--", str(body_file), content_type]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60)
    if done.returncode != 0:
        raise WrkError(f"wrk exited with {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
    run = parse_summary(done.stdout)
    if run.requests == 0:
        raise WrkError(f"no request to {url} completed in {duration_s} s over {connections} connections")
    return run


def parse_summary(stdout: str) -> WrkRun:
    """The ``WRK_JSON`` line that post.lua's ``done()`` prints, as a ``WrkRun``."""
    line = next((line for line in stdout.splitlines() if line.startswith(MARKER)), None)
    if line is None:
        raise WrkError(f"wrk printed no {MARKER.strip()} summary line; its output was:\n{stdout}")
    summary = json.loads(line[len(MARKER):])
    return WrkRun(
        requests=summary["requests"],
        requests_per_s=summary["requests_per_s"],
        p50_ms=summary["p50_us"] / 1000,
        p90_ms=summary["p90_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        max_ms=summary["max_us"] / 1000,
        errors=sum(summary["errors"].values()),
    )
