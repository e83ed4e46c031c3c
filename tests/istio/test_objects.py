"""The objects kfunc traffic renders: valid against the real CRDs, routed the way Knative needs."""
from __future__ import annotations

import re

import pytest

from functions.errors import ConfigError
from istio import canary
from istio.destinationrule import GatewayPolicy, destination_rule
from istio.hosts import LOCAL_GATEWAY_HOST
from istio.plan import Retries, TrafficPlan, parse_cookie_route, parse_header_route, parse_mirror, parse_weights
from istio.status import split_of
from istio.virtualservice import render
from knative.validate import validate_objects


def full_plan(**changes) -> TrafficPlan:
    settings = dict(function="fn", namespace="ml", weights={"blue": 90, "green": 10}, public_host="fn.example.com",
                    header_routes=(parse_header_route("x-canary=true -> green"), parse_cookie_route("canary=yes -> green")),
                    mirror=parse_mirror("green=12.5"), timeout="30s", retries=Retries(3, "10s", "5xx,connect-failure"))
    return TrafficPlan(**{**settings, **changes})


def by_kind(objects: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_every_generated_object_validates_against_the_crds(schemas):
    objects = [*render(full_plan()), destination_rule("ml")]
    report = validate_objects(objects, schemas)
    assert report.problems == []
    assert report.unchecked == [] and report.server_checked == ["Service/fn (v1)"]  # the core ExternalName Service


def test_the_validator_catches_a_field_istio_does_not_know(schemas):
    virtual_service = render(full_plan())[1]
    virtual_service["spec"]["http"][0]["retry"] = {"attempts": 3}
    problems = validate_objects([virtual_service], schemas).problems
    assert [(p.path, p.fix) for p in problems] == [("spec.http[0].retry", "did you mean 'retries'?")]


def test_every_destination_is_the_local_gateway_with_its_own_knative_host():
    virtual_service = render(full_plan())[1]
    spec = virtual_service["spec"]
    assert spec["hosts"] == ["fn.example.com", "fn.ml.svc.cluster.local"]
    assert spec["gateways"] == ["knative-serving/knative-ingress-gateway", "knative-serving/knative-local-gateway", "mesh"]
    split = spec["http"][-1]["route"]
    assert [d["destination"]["host"] for d in split] == [LOCAL_GATEWAY_HOST] * 2
    assert [d["headers"]["request"]["set"]["Host"] for d in split] == ["fn-blue.ml.svc.cluster.local",
                                                                        "fn-green.ml.svc.cluster.local"]


def test_weights_of_every_route_sum_to_100():
    for route in render(full_plan())[1]["spec"]["http"]:
        assert sum(d["weight"] for d in route["route"]) == 100
    assert split_of(render(full_plan())[1]) == {"fn-blue": 90, "fn-green": 10}


@pytest.mark.parametrize("weights, message", [
    (["blue=90", "green=20"], "sum to 110, want 100"),
    (["blue=ninety"], "is not VERSION=PERCENT"),
    (["blue=50", "blue=50"], "given twice"),
])
def test_bad_weights_are_refused_with_the_fix(weights, message):
    with pytest.raises(ConfigError, match=message):
        TrafficPlan("fn", "ml", parse_weights(weights))


def test_a_switch_keeps_every_version_known_and_sends_all_to_one():
    switched = full_plan().all_to("green")
    assert switched.weights == {"blue": 0, "green": 100}
    assert split_of(render(switched)[1]) == {"fn-blue": 0, "fn-green": 100}


def test_header_and_cookie_routes_send_only_marked_requests_to_green():
    http = render(full_plan())[1]["spec"]["http"]
    header, cookie = http[0], http[1]
    assert header["match"] == [{"headers": {"x-canary": {"exact": "true"}}}]
    assert [d["headers"]["request"]["set"]["Host"] for d in header["route"]] == ["fn-green.ml.svc.cluster.local"]
    pattern = cookie["match"][0]["headers"]["cookie"]["regex"]
    assert re.fullmatch(pattern, "session=1; canary=yes")
    assert re.fullmatch(pattern, "canary=yes")
    assert not re.fullmatch(pattern, "notcanary=yes; x=1")
    assert "match" not in http[-1]


def test_a_route_to_an_unknown_version_is_refused():
    with pytest.raises(ConfigError, match="unknown version 'purple'; known: blue, green"):
        full_plan(header_routes=(parse_header_route("x-canary=true -> purple"),))


def test_a_header_route_needs_the_arrow_form():
    with pytest.raises(ConfigError, match="write NAME=VALUE -> VERSION"):
        parse_header_route("x-canary=true green")


def test_mirror_goes_through_the_local_gateway_and_a_shadow_virtual_service(schemas):
    objects = render(full_plan())
    split = by_kind(objects, "VirtualService", "fn")["spec"]["http"][-1]
    assert split["mirror"] == {"host": LOCAL_GATEWAY_HOST, "port": {"number": 80}}
    assert split["mirrorPercentage"] == {"value": 12.5}
    shadow = by_kind(objects, "VirtualService", "fn-shadow")
    # Envoy appends -shadow to the Host the primary request was sent with
    assert shadow["spec"]["hosts"] == ["fn-blue.ml.svc.cluster.local-shadow", "fn-green.ml.svc.cluster.local-shadow"]
    assert shadow["spec"]["gateways"] == ["knative-serving/knative-local-gateway"]
    assert shadow["spec"]["http"][0]["route"][0]["headers"]["request"]["set"]["Host"] == "fn-green.ml.svc.cluster.local"
    assert "fn-shadow" not in [o["metadata"]["name"] for o in render(full_plan(mirror=None))]


def test_timeouts_below_istios_minimum_are_refused():
    with pytest.raises(ConfigError, match="--timeout '0s': Istio needs a duration of at least 1ms"):
        full_plan(timeout="0s")


def test_destination_rule_protects_the_gateway_host():
    rule = destination_rule("ml", GatewayPolicy(max_connections=10, consecutive_5xx=3))
    assert rule["spec"]["host"] == LOCAL_GATEWAY_HOST
    policy = rule["spec"]["trafficPolicy"]
    assert policy["connectionPool"]["tcp"]["maxConnections"] == 10
    assert policy["outlierDetection"]["consecutive5xxErrors"] == 3
    with pytest.raises(ConfigError, match="--ejection-time 'soon'"):
        GatewayPolicy(base_ejection_time="soon")


SERVICE = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "fn", "namespace": "ml"},
           "status": {"traffic": [{"revisionName": "fn-00001", "latestRevision": True, "percent": 100}]}}


def test_revision_canary_splits_latest_and_the_last_good_revision(schemas):
    patch = canary.canary(SERVICE, 10)
    assert patch["spec"]["traffic"] == [
        {"tag": "latest", "latestRevision": True, "percent": 10},
        {"tag": "prev", "revisionName": "fn-00001", "latestRevision": False, "percent": 90},
    ]
    assert validate_objects([patch], schemas).problems == []


def test_revision_rollback_returns_to_the_prev_tag_and_promote_to_latest(schemas):
    during = {**SERVICE, "spec": canary.canary(SERVICE, 10)["spec"],
              "status": {"traffic": [{"revisionName": "fn-00002", "percent": 10}, {"revisionName": "fn-00001", "percent": 90}]}}
    rolled_back = canary.rollback(during)
    assert [(t.get("revisionName"), t["percent"]) for t in rolled_back["spec"]["traffic"]] == [(None, 0), ("fn-00001", 100)]
    promoted = canary.promote(during)
    assert promoted["spec"]["traffic"] == [{"tag": "latest", "latestRevision": True, "percent": 100}]
    assert validate_objects([rolled_back, promoted], schemas).problems == []


def test_revision_canary_without_a_known_good_revision_asks_for_one():
    fresh = {**SERVICE, "status": {}}
    with pytest.raises(ConfigError, match="pass --revision NAME"):
        canary.canary(fresh, 10)
    assert canary.canary(fresh, 10, "fn-00003")["spec"]["traffic"][1]["revisionName"] == "fn-00003"
