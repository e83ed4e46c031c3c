"""``kfunc traffic --mode raw|keda``: versions that run without Knative are routed as plain Services."""
from __future__ import annotations

import pytest
import yaml

from functions.errors import ConfigError
from istio.envoy import translate
from istio.plan import Mirror, TrafficPlan
from istio.status import split_of
from istio.virtualservice import render
from knative.validate import validate_objects


def plan(mode: str, **changes) -> TrafficPlan:
    return TrafficPlan("fn", "ml", {"blue": 90, "green": 10}, mode=mode, **changes)


def test_raw_versions_are_their_own_services_with_no_host_rewrite(schemas):
    objects = render(plan("raw", mirror=Mirror("green", 5)))
    assert [o["kind"] for o in objects] == ["Service", "VirtualService"]  # no shadow VirtualService: no gateway
    service, virtual_service = objects
    split = virtual_service["spec"]["http"][-1]
    assert split["route"] == [
        {"destination": {"host": "fn-blue.ml.svc.cluster.local", "port": {"number": 80}}, "weight": 90},
        {"destination": {"host": "fn-green.ml.svc.cluster.local", "port": {"number": 80}}, "weight": 10}]
    assert split["mirror"] == {"host": "fn-green.ml.svc.cluster.local", "port": {"number": 80}}
    assert service["spec"]["externalName"] == "fn-blue.ml.svc.cluster.local"
    assert split_of(virtual_service) == {"fn-blue": 90, "fn-green": 10}
    assert validate_objects(objects, schemas).problems == []
    upstreams = {"fn-blue.ml.svc.cluster.local": "127.0.0.1:9001", "fn-green.ml.svc.cluster.local": "127.0.0.1:9002"}
    clusters = translate(objects, upstreams).route_config["virtual_hosts"][0]["routes"][-1]["route"]["weighted_clusters"]
    assert clusters["clusters"] == [{"name": "fn-blue.ml.svc.cluster.local", "weight": 90},  # the local mesh: no rewrite
                                    {"name": "fn-green.ml.svc.cluster.local", "weight": 10}]


def test_keda_versions_go_through_the_interceptor_with_their_host(schemas):
    service, virtual_service = render(plan("keda"))
    interceptor = "keda-add-ons-http-interceptor-proxy.keda.svc.cluster.local"
    assert virtual_service["spec"]["http"][-1]["route"][0] == {
        "destination": {"host": interceptor, "port": {"number": 8080}},
        "headers": {"request": {"set": {"Host": "fn-blue.ml.svc.cluster.local"}}}, "weight": 90}
    assert (service["spec"]["externalName"], service["spec"]["ports"][0]["port"]) == (interceptor, 8080)
    assert split_of(virtual_service) == {"fn-blue": 90, "fn-green": 10}
    assert validate_objects([service, virtual_service], schemas).problems == []


def test_a_mirror_through_the_interceptor_is_refused():
    with pytest.raises(ConfigError, match="--mirror: the KEDA interceptor routes by Host"):
        plan("keda", mirror=Mirror("green", 5))


def test_traffic_mode_option(kfunc, crds_dir):
    status, out, err = kfunc("traffic", "switch", "fn", "--to", "green", "--mode", "raw", "-n", "ml",
                             "--dry-run", "-o", "yaml", "--crds", crds_dir)
    assert status == 0, err
    documents = list(yaml.safe_load_all(out))
    assert [d["kind"] for d in documents] == ["Service", "VirtualService"]  # no local gateway DestinationRule
    virtual_service = documents[1]
    assert virtual_service["spec"]["http"][-1]["route"][1]["destination"]["host"] == "fn-green.ml.svc.cluster.local"
