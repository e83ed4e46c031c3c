"""Request metrics: ``/metrics`` in the Prometheus text format adds up every worker's requests,
whichever worker answers the scrape; the same measurements go out through OpenTelemetry."""
from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import function_dir, scrape

V2 = "/v2/models/batcher/infer"


def infer(url: str, row: list[float]) -> requests.Response:
    body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, len(row)], "data": row}]}
    return requests.post(url + V2, json=body, timeout=20)  # a new connection each time


def wait_for_workers(server, count: int) -> None:
    """Until ``count`` workers are ready: a worker takes connections once it has booted."""
    deadline = time.monotonic() + 30
    while len(re.findall(r"ready in process \d+", server.log())) < count:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)


def test_metrics_add_up_the_requests_of_both_workers(serve):
    server = serve(function_dir("batcher"), "--workers", "2", "--threads", "4")
    wait_for_workers(server, 2)
    with ThreadPoolExecutor(8) as pool:
        good = list(pool.map(lambda i: infer(server.url, [float(i), 1.0]), range(40)))
        bad = list(pool.map(lambda i: infer(server.url, [1.0, 2.0, 3.0]), range(3)))
    assert [a.status_code for a in good] == [200] * 40 and [a.status_code for a in bad] == [400] * 3
    pids = {a.json()["outputs"][0]["data"][3] for a in good}
    assert len(pids) == 2, "the connections were not spread over both workers"
    for _ in range(6):  # each scrape is answered by either worker, on a new connection
        found = scrape(server.url)
        assert found.value("kfunc_requests_total", protocol="v2", code="200", transport="http1") == 40
        assert found.value("kfunc_requests_total", protocol="v2", code="400") == 3
        assert found.value("kfunc_request_duration_seconds_count", protocol="v2") == 43
        assert found.value("kfunc_request_duration_seconds_bucket", protocol="v2", le="+Inf") == 43
        assert found.value("kfunc_request_phase_seconds_count", phase="model") == 40  # the 400s never reached it
        assert found.value("kfunc_request_phase_seconds_sum", phase="parse") > 0


def test_metrics_go_out_through_opentelemetry_when_an_exporter_is_set(serve):
    server = serve(function_dir("batcher"), env={"OTEL_METRICS_EXPORTER": "console",
                                                 "OTEL_METRIC_EXPORT_INTERVAL": "300"})
    assert infer(server.url, [1.0, 2.0]).status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and '"kfunc.request.duration"' not in server.log():
        time.sleep(0.2)
    log = server.log()
    for instrument in ("kfunc.requests", "kfunc.request.duration", "kfunc.request.phase.duration",
                       "kfunc.batch.size", "kfunc.queue.duration"):
        assert f'"name": "{instrument}"' in log, instrument


def test_the_content_type_is_the_one_prometheus_client_writes():
    import prometheus_client

    from functions import metrics
    assert metrics.CONTENT_TYPE == prometheus_client.CONTENT_TYPE_LATEST
