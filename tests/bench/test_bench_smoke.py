"""The load benchmark in its shortest mode (real servers, real wrk), and its checks and table."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from scripts.bench.bars import bars_text, check_bars
from scripts.bench.check import MismatchError, check_server
from scripts.bench.report import Cell, table
from scripts.bench.workloads import mlp
from scripts.bench.wrk import WrkRun

REPO = Path(__file__).resolve().parents[2]
needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None,
                               reason="wrk is not installed; scripts/bench/run.sh installs it (apt-get install -y wrk)")


def bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scripts.bench.load", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env=env)


@needs_wrk
def test_short_run_measures_both_servers_and_writes_the_results(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = bench("--target", "kfunc", "kserve", "--protocol", "v1", "v2", "--concurrency", "1",
                 "--duration", "1", "--repeats", "1", "--warmup", "0", "--output", str(output))
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(output.read_text())
    cells = {(cell["target"], cell["protocol"]): cell for cell in results["results"]}
    assert set(cells) == {(t, p) for t in ("kfunc", "kserve") for p in ("v1", "v2")}
    for cell in cells.values():
        assert cell["concurrency"] == 1 and len(cell["runs"]) == 1
        assert cell["requests_per_s"] > 0 and cell["errors"] == 0
        assert 0 < cell["p50_ms"] <= cell["p99_ms"]
    breakdown = cells["kfunc", "v2"]["breakdown"]  # from kfunc's own /metrics, before and after the cell
    assert breakdown["phases_us"]["parse"] > 0 and breakdown["phases_us"]["model"] > 0
    assert breakdown["server_us"] >= sum(breakdown["phases_us"].values())
    assert cells["kserve", "v2"]["breakdown"] is None
    v2_ratio = next(r for r in results["ratios"] if r["protocol"] == "v2")
    assert (v2_ratio["target"], v2_ratio["baseline"]) == ("kfunc", "kserve")
    assert v2_ratio["requests_per_s"] == pytest.approx(
        cells["kfunc", "v2"]["requests_per_s"] / cells["kserve", "v2"]["requests_per_s"])
    assert "kfunc/kserve" in done.stdout and "share this machine's" in done.stdout


def test_missing_wrk_is_reported_with_the_fix(tmp_path: Path) -> None:
    done = bench("--duration", "1", env={**os.environ, "PATH": str(tmp_path)})
    assert done.returncode == 1
    assert "wrk is not installed" in done.stderr and "apt-get install" in done.stderr


class _WrongModel(BaseHTTPRequestHandler):
    """Answers every V1 predict with zeros, or with a 500 on the path /broken/."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        status, answer = (500, {"error": "boom"}) if self.path.startswith("/broken/") else \
            (200, {"predictions": [[0.0] * 10]})
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def wrong_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WrongModel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_check_rejects_a_server_whose_outputs_differ_from_the_model(wrong_server: str) -> None:
    probes = {"v1": mlp().probes["v1"]}
    with pytest.raises(MismatchError, match=r"kserve over v1 .*differs from the model in-process by 0\.5"):
        check_server("kserve", wrong_server, probes, np.full((1, 10), 0.5))


def test_check_reports_a_server_error_with_its_answer(wrong_server: str) -> None:
    probes = {"v1": mlp().probes["v1"]}
    with pytest.raises(MismatchError, match="answered 500: .*boom"):
        check_server("kfunc", wrong_server + "/broken", probes, np.zeros((1, 10)))


def _run(requests_per_s: float, p50_ms: float, p99_ms: float, errors: int = 0) -> WrkRun:
    return WrkRun(requests=100, requests_per_s=requests_per_s, p50_ms=p50_ms, p90_ms=p50_ms,
                  p99_ms=p99_ms, max_ms=p99_ms, errors=errors)


def test_table_shows_medians_of_the_repeats_and_the_ratio_to_the_baseline() -> None:
    cells = [Cell("kfunc", "v2", 32, (_run(900, 1, 5), _run(3000, 2, 9), _run(1000, 3, 7))),
             Cell("kserve", "v2", 32, (_run(500, 4, 8, errors=3),))]
    lines = table(cells, ["kfunc", "kserve"], "kserve").splitlines()
    assert lines[0].split()[-1] == "kfunc/kserve"
    assert lines[1].split() == ["v2", "32", "1000.0", "2.00", "7.00", "500.0", "4.00", "8.00", "2.00x"]
    assert lines[2] == "! kserve v2 c=32: 3 failed requests (socket errors, timeouts or non-2xx answers)"


def test_bars_compare_kfunc_with_the_reference_of_the_same_run() -> None:
    cells = [Cell("kfunc", "v2", 32, (_run(8000, 2, 9),), "mlp"), Cell("kserve", "v2", 32, (_run(1800, 4, 8),), "mlp"),
             Cell("kfunc", "v2", 1, (_run(900, 0.3, 1),), "mlp"), Cell("asgi", "v2", 1, (_run(1000, 0.25, 1),), "mlp")]
    results = {r["bar"]: r for r in check_bars(cells)}
    assert set(results) == {"mlp c=32: req/s >= 4x kserve", "mlp c=32: p99 no worse than kserve",
                            "mlp c=1: p50 within 1.3x of asgi"}  # minilm and asgi c=32 were not measured: no bar
    assert results["mlp c=32: req/s >= 4x kserve"]["met"] and results["mlp c=1: p50 within 1.3x of asgi"]["met"]
    assert results["mlp c=32: p99 no worse than kserve"]["ratio"] == pytest.approx(9 / 8)
    assert "NOT MET  mlp c=32: p99 no worse than kserve: ratio 1.12" in bars_text(check_bars(cells))
