"""SIGTERM (Knative scale-down): the queue is flushed within the drain budget; what cannot be sent
by then is counted and logged, never silently lost. The server span's traceparent is logged."""
from __future__ import annotations

import json
import re
import signal

import requests

from tests.logging.test_events import REQUEST, RESPONSE, TRACEPARENT, ROW, _v2


def _post(url: str, request_id: str, **headers: str) -> None:
    answer = requests.post(f"{url}/v2/models/scorer/infer", data=_v2(ROW), timeout=10,
                           headers={"Content-Type": "application/json", "X-Request-Id": request_id, **headers})
    assert answer.status_code == 200


def test_sigterm_delivers_what_is_queued(serve, receiver, logged_function):
    receiver.delay = 0.1  # 20 events, one sender: 2 s of sending still queued at SIGTERM
    server = serve(logged_function({"max-in-flight": 1}), "--workers", "1", env={"KFUNC_LOGGER_URL": receiver.url})
    for index in range(10):
        _post(server.url, f"q{index}")
    assert len(receiver.events) < 20
    assert server.stop(signal.SIGTERM) == 0
    assert sorted({e["id"] for e in receiver.events}) == sorted(f"q{i}" for i in range(10))
    assert len(receiver.events) == 20 and "queue flushed" in server.log()


def test_what_cannot_be_sent_by_the_deadline_is_counted_and_logged(serve, receiver, logged_function, tmp_path):
    function = logged_function({"max-attempts": 100})
    config = (function / "kfunc.yaml").read_text()
    (function / "kfunc.yaml").write_text(config + "runtime:\n  timeout: 3\n")  # the drain budget: 3 s
    receiver.stop()
    server = serve(function, "--workers", "1", env={"KFUNC_LOGGER_URL": receiver.url})
    for index in range(5):
        _post(server.url, f"lost{index}")
    assert server.stop(signal.SIGTERM, timeout=20) == 0
    found = re.search(r"payload logger: (\d+) event\(s\) could not be sent before the drain deadline", server.log())
    assert found and int(found.group(1)) == 10, server.log()[-2000:]


def test_the_server_span_traceparent_is_logged(serve, receiver, logged_function):
    server = serve(logged_function({}), "--workers", "1",
                   env={"KFUNC_LOGGER_URL": receiver.url, "OTEL_TRACES_EXPORTER": "console"})
    _post(server.url, "traced", traceparent=TRACEPARENT)
    events = {e["type"]: e for e in receiver.wait_for(2)}
    logged = events[REQUEST]["traceparent"]
    assert logged == events[RESPONSE]["traceparent"]
    version, trace_id, span_id, _ = logged.split("-")
    assert trace_id == TRACEPARENT.split("-")[1] and span_id != TRACEPARENT.split("-")[2]  # the server's span
    assert json.loads(events[REQUEST].get_data())["inputs"][0]["data"] == ROW
