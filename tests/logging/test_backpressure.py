"""A dead or slow sink is never in the way: no inference error, no added latency, the queue
bounded (what does not fit is dropped and counted), sending resumes by itself."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.conftest import scrape
from tests.logging.test_events import _v2

pytestmark = pytest.mark.slow


def _load(url: str, body: bytes, stop: threading.Event, results: list, clients: int = 4) -> list[threading.Thread]:
    """``clients`` threads POSTing ``body`` until ``stop`` on kept-alive connections; each answer as
    (time sent, status, seconds)."""

    def client(number: int) -> None:
        session = requests.Session()
        count = 0
        while not stop.is_set():
            started = time.monotonic()
            try:
                status = session.post(f"{url}/v2/models/scorer/infer", data=body, timeout=10,
                                      headers={"Content-Type": "application/json",
                                               "X-Request-Id": f"c{number}-{count}"}).status_code
            except requests.RequestException as exc:
                status = f"{type(exc).__name__}: {exc}"
            results.append((started, status, time.monotonic() - started))
            count += 1

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    return threads


def _p50(results: list, start: float, end: float) -> float:
    return float(np.median([seconds for sent, _, seconds in results if start <= sent < end]))


def test_sink_down_for_30s_then_back(serve, receiver, logged_function):
    function = logged_function({"queue": {"max-events": 200}, "max-attempts": 3})
    server = serve(function, "--workers", "1", env={"KFUNC_LOGGER_URL": receiver.url})
    stop, results = threading.Event(), []
    threads = _load(server.url, _v2([1, 2, 3, 4]), stop, results)
    time.sleep(5)
    down = time.monotonic()
    receiver.stop()
    time.sleep(30)
    received_while_down = len(receiver.events)
    receiver.start()
    back = time.monotonic()
    time.sleep(10)
    stop.set()
    for thread in threads:
        thread.join()
    statuses = {status for _, status, _ in results}
    assert statuses == {200}, f"inference answers during the outage: {statuses}"
    assert _p50(results, down + 2, back) < 3 * _p50(results, 0, down) + 0.005  # the outage adds no latency
    metrics = scrape(server.url)
    assert metrics.value("kfunc_logger_events_total", outcome="dropped") > 0
    assert metrics.value("kfunc_logger_retries_total") > 0
    after = [e for e in receiver.wait_for(received_while_down + 100) if e["time"] > _iso(back + 1)]
    assert after, "sending did not resume after the sink came back"
    assert metrics.value("kfunc_logger_queue_events") <= 200


def _iso(monotonic: float) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(time.time() - (time.monotonic() - monotonic), timezone.utc).isoformat()


def _worker_rss(master_pid: int) -> int:
    """Resident bytes of the server's (one) worker process."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    (worker,) = children
    for line in Path(f"/proc/{worker}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_slow_sink_keeps_memory_under_the_queue_bound(serve, logged_function):
    from tests.logging.receiver import Receiver

    sink = Receiver(delay=2.0)
    bound = 4 * 2**20
    function = logged_function({"queue": {"max-bytes": "4Mi"}, "max-in-flight": 2})
    server = serve(function, "--workers", "1", env={"KFUNC_LOGGER_URL": sink.url})
    rows = np.random.default_rng(0).random((8192, 4)).round(3).tolist()
    body = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [8192, 4],
                                   "data": [v for row in rows for v in row]}]}).encode()  # ~200 KB in, more out
    for _ in range(10):  # warm the allocator before the baseline
        requests.post(f"{server.url}/v2/models/scorer/infer", data=body, timeout=30)
    baseline = _worker_rss(server.process.pid)
    stop, results = threading.Event(), []
    threads = _load(server.url, body, stop, results, clients=2)
    time.sleep(20)
    stop.set()
    for thread in threads:
        thread.join()
    grown = _worker_rss(server.process.pid) - baseline
    payload = len(results) * len(body) * 2
    try:
        metrics = scrape(server.url)
        assert {status for _, status, _ in results} == {200}, server.log()[-3000:]
        assert payload > 10 * bound, "the load must carry far more than the queue can hold"
        assert metrics.value("kfunc_logger_events_total", outcome="dropped") > 0
        assert metrics.value("kfunc_logger_queue_bytes") <= bound
        assert grown < bound + 32 * 2**20, f"worker grew {grown / 2**20:.0f} MiB for {payload / 2**20:.0f} MiB of payload"
    finally:
        sink.stop()
