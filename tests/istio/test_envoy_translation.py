"""istio/envoy.py's contract: what it translates from a VirtualService, and the features it refuses by name."""
from __future__ import annotations

import copy

import pytest

from istio.envoy import UntranslatableVirtualService, translate
from istio.mesh import LocalMesh, LocalVersion
from istio.plan import Retries, TrafficPlan, parse_header_route, parse_mirror
from istio.virtualservice import render

UPSTREAMS = {"fn-blue.ml.svc.cluster.local": "127.0.0.1:9001", "fn-green.ml.svc.cluster.local": "127.0.0.1:9002"}


def plan(**changes) -> TrafficPlan:
    return TrafficPlan(**{"function": "fn", "namespace": "ml", "weights": {"blue": 90, "green": 10}, **changes})


def routes(objects: list[dict]) -> list[dict]:
    return translate(objects, UPSTREAMS).route_config["virtual_hosts"][0]["routes"]


def test_split_becomes_weighted_clusters_with_host_rewrites():
    resources = translate(render(plan()), UPSTREAMS)
    (route,) = resources.route_config["virtual_hosts"][0]["routes"]
    assert route["match"] == {"prefix": "/"}
    assert route["route"]["weighted_clusters"]["clusters"] == [
        {"name": "fn-blue.ml.svc.cluster.local", "weight": 90, "host_rewrite_literal": "fn-blue.ml.svc.cluster.local"},
        {"name": "fn-green.ml.svc.cluster.local", "weight": 10, "host_rewrite_literal": "fn-green.ml.svc.cluster.local"},
    ]
    ports = {c["name"]: c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]["port_value"]
             for c in resources.clusters}
    assert ports == {"fn-blue.ml.svc.cluster.local": 9001, "fn-green.ml.svc.cluster.local": 9002}


def test_no_timeout_and_no_retries_mean_what_istio_does():
    action = routes(render(plan()))[0]["route"]
    assert action["timeout"] == "0s"
    assert action["retry_policy"]["num_retries"] == 2


def test_timeout_retries_and_header_matches_are_translated():
    objects = render(plan(timeout="1500ms", retries=Retries(3, "500ms", "5xx,503"),
                          header_routes=(parse_header_route("x-user~=^qa-.* -> green"),)))
    header_route, split = routes(objects)
    assert header_route["match"]["headers"] == [{"name": "x-user", "string_match": {"safe_regex": {"regex": "^qa-.*"}}}]
    assert split["route"]["timeout"] == "1.5s"
    assert split["route"]["retry_policy"] == {"num_retries": 3, "retry_on": "5xx,retriable-status-codes",
                                              "retriable_status_codes": [503], "per_try_timeout": "0.5s"}


def test_a_mirror_to_the_gateway_follows_the_shadow_virtual_service():
    (route,) = routes(render(plan(mirror=parse_mirror("green=25"))))
    assert route["route"]["request_mirror_policies"] == [{
        "cluster": "fn-green.ml.svc.cluster.local",
        "runtime_fraction": {"default_value": {"numerator": 250000, "denominator": "MILLION"}},
        "host_rewrite_literal": "fn-green.ml.svc.cluster.local", "disable_shadow_host_suffix_append": True,
    }]


def test_a_mirror_without_the_shadow_virtual_service_is_refused():
    objects = render(plan(mirror=parse_mirror("green=25")))
    without_shadow = [o for o in objects if o["metadata"]["name"] != "fn-shadow"]
    with pytest.raises(UntranslatableVirtualService, match="arrives there as Host fn-blue.ml.svc.cluster.local-shadow"):
        translate(without_shadow, UPSTREAMS)


@pytest.mark.parametrize("path, value, message", [
    (("http", -1, "fault"), {"abort": {"httpStatus": 500}}, "spec.http[0].fault: not translated"),
    (("http", -1, "redirect"), {"uri": "/x"}, "spec.http[0].redirect: not translated"),
    (("http", -1, "match"), [{"method": {"exact": "GET"}}], "spec.http[0].match[0].method: this match is not translated"),
    (("http", -1, "route", 0, "destination", "subset"), "v1", "subsets are not translated"),
    (("tcp",), [{"route": []}], "spec.tcp is not translated"),
])
def test_untranslated_features_are_refused_by_field(path, value, message):
    objects = copy.deepcopy(render(plan()))
    node = objects[1]["spec"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(UntranslatableVirtualService, match=message.replace("[", r"\[").replace("]", r"\]")):
        translate(objects, UPSTREAMS)


def test_a_destination_without_a_local_server_is_named():
    with pytest.raises(UntranslatableVirtualService, match="no local server for fn-green.ml.svc.cluster.local"):
        translate(render(plan()), {"fn-blue.ml.svc.cluster.local": "127.0.0.1:9001"})


def test_h2c_upstreams_get_http2_clusters_so_grpc_passes():
    clusters = {c["name"]: c for c in translate(render(plan()), UPSTREAMS, h2c={"fn-green.ml.svc.cluster.local"}).clusters}
    options = clusters["fn-green.ml.svc.cluster.local"]["typed_extension_protocol_options"]
    assert options == {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        "explicit_http_config": {"http2_protocol_options": {}}}}
    assert "typed_extension_protocol_options" not in clusters["fn-blue.ml.svc.cluster.local"]  # http1 stays HTTP/1.1


def test_the_local_mesh_takes_h2c_from_each_versions_kfunc_yaml(tmp_path):
    for version, protocol in (("blue", "http1"), ("green", "h2c")):
        (tmp_path / version).mkdir()
        (tmp_path / version / "kfunc.yaml").write_text(f"name: fn\ndeploy:\n  protocol: {protocol}\n")
    mesh = LocalMesh("fn", "ml", [LocalVersion(v, tmp_path / v) for v in ("blue", "green")], tmp_path / "mesh")
    assert mesh.h2c_hosts == {"fn-green.ml.svc.cluster.local"}
