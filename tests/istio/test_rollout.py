"""The rollout controller against real metrics servers over loopback, applying to a fake API server."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from istio.metrics import MetricsUrlSource, PrometheusSource
from istio.plan import TrafficPlan
from istio.rollout import RolloutController, RolloutPlan, Thresholds
from istio.status import split_of
from istio.virtualservice import render
from knative.kube import Kube

VIRTUAL_SERVICE = ("networking.istio.io", "virtualservices", "ml", "fn")
GOOD = {"requests": 400, "errors": 1, "p99_ms": 120.0}
BAD = {"requests": 400, "errors": 40, "p99_ms": 120.0}


class MetricsServer:
    """Answers each GET with the next scripted JSON body (the last one repeats); records the queries."""

    def __init__(self, answers: list[dict], answer_for=None) -> None:
        self.answers = answers
        self.answer_for = answer_for
        self.queries: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                server.queries.append(query)
                body = server.answer_for(query) if server.answer_for else server.answers[min(len(server.queries), len(server.answers)) - 1]
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def metrics():
    servers: list[MetricsServer] = []

    def start(answers: list[dict], answer_for=None) -> MetricsServer:
        servers.append(MetricsServer(answers, answer_for))
        return servers[-1]
    yield start
    for server in servers:
        server.stop()


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def rollout_plan(**thresholds) -> RolloutPlan:
    base = TrafficPlan("fn", "ml", {"blue": 100}, versions=("blue", "green"))
    return RolloutPlan(base, "blue", "green", (5, 25, 50, 100), 60.0, Thresholds(**thresholds))


def run(plan: RolloutPlan, source, fake_cluster) -> tuple:
    kube = Kube.for_host(fake_cluster.url)
    log: list[str] = []
    time = FakeTime()

    def apply(step: TrafficPlan) -> None:
        for obj in render(step):
            kube.apply(obj)

    result = RolloutController(apply, source, log.append, sleep=time.sleep, clock=time.clock).run(plan)
    return result, log, time


def test_metrics_going_bad_mid_rollout_roll_back_to_blue(metrics, fake_cluster):
    server = metrics([GOOD, GOOD, BAD])
    result, log, time = run(rollout_plan(), MetricsUrlSource(server.url), fake_cluster)
    assert not result.succeeded
    assert result.reached_percent == 25
    assert split_of(fake_cluster.objects[VIRTUAL_SERVICE]) == {"fn-blue": 100, "fn-green": 0}
    assert time.sleeps == [60.0, 60.0, 60.0]
    assert server.queries[-1] == {"service": "fn-green", "namespace": "ml", "window": "60"}
    assert log[4] == "step 3/4: blue=50 green=50 applied; analysing fn-green for 60s"
    assert log[5].startswith("step 3/4: FAILED: error rate 10.00% is above 1.00%; rolling back to blue=100 green=0")
    assert log[-1] == "rolled back: blue serves 100%"


def test_healthy_metrics_complete_the_rollout(metrics, fake_cluster):
    result, log, _ = run(rollout_plan(max_p99_ms=300), MetricsUrlSource(metrics([GOOD]).url), fake_cluster)
    assert result.succeeded
    assert split_of(fake_cluster.objects[VIRTUAL_SERVICE]) == {"fn-blue": 0, "fn-green": 100}
    assert log[1] == "step 1/4: ok (400 requests, error rate 0.25%, p99 120ms)"
    assert log[-1] == "rollout of green complete: blue=0 green=100"


def test_slow_answers_or_silence_fail_a_step(metrics, fake_cluster):
    slow = {"requests": 400, "errors": 0, "p99_ms": 900.0}
    result, _, _ = run(rollout_plan(max_p99_ms=300), MetricsUrlSource(metrics([slow]).url), fake_cluster)
    assert result.reasons == ["p99 900ms is above 300ms"]
    silent = {"requests": 0, "errors": 0, "p99_ms": None}
    result, _, _ = run(rollout_plan(min_requests=10), MetricsUrlSource(metrics([silent]).url), fake_cluster)
    assert "only 0 requests reached it (want at least 10)" in result.reasons[0]


def test_an_unreachable_metrics_source_rolls_back(fake_cluster):
    result, log, _ = run(rollout_plan(), MetricsUrlSource("http://127.0.0.1:9/metrics"), fake_cluster)
    assert not result.succeeded
    assert result.reasons[0].startswith("metrics unavailable: cannot reach the metrics URL")
    assert split_of(fake_cluster.objects[VIRTUAL_SERVICE]) == {"fn-blue": 100, "fn-green": 0}


def test_prometheus_queries_istio_metrics_of_the_new_version(metrics):
    values = {"istio_requests_total": "200", "response_code": "3", "histogram_quantile": "250.5"}

    def answer(query: dict) -> dict:
        key = next(k for k in ("histogram_quantile", "response_code", "istio_requests_total") if k in query["query"])
        return {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, values[key]]}]}}

    server = metrics([], answer)
    sample = PrometheusSource(server.url).sample("fn-green", "ml", 60)
    assert (sample.requests, sample.errors, sample.p99_ms) == (200.0, 3.0, 250.5)
    queries = [q["query"] for q in server.queries]
    assert all('destination_workload=~"fn-green-[0-9]+-deployment"' in q and 'reporter="destination"' in q for q in queries)
    assert any("istio_request_duration_milliseconds_bucket" in q and "[60s]" in q for q in queries)


def test_kfunc_rollout_rolls_back_through_the_cli(kfunc, kubeconfig, fake_cluster, metrics):
    server = metrics([GOOD, BAD])
    status, out, err = kfunc("rollout", "fn", "--to", "green", "--steps", "50,100", "--interval", "1ms",
                             "--metrics-url", server.url, "--kubeconfig", kubeconfig)
    assert status == 1, err
    assert "step 2/2: FAILED: error rate 10.00% is above 1.00%" in out
    assert split_of(fake_cluster.objects[VIRTUAL_SERVICE]) == {"fn-blue": 100, "fn-green": 0}
