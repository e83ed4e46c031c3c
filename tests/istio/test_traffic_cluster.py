"""``kfunc traffic`` and ``kfunc delete`` on a cluster, as an operator hit them (issue 11)."""
from __future__ import annotations

import pytest

from tests.conftest import write_kubeconfig
from tests.knative.fake_apiserver import FakeApiServer

from .test_traffic_cmd import patches

VS = "networking.istio.io"


def routing(fake_cluster) -> list[tuple[str, str]]:
    return sorted((k[1], k[3]) for k in fake_cluster.objects
                  if k[0] == VS or (k[:2] == ("", "services") and k[3].startswith("fn")))


def test_a_missing_destination_rule_crd_moves_no_traffic_and_is_noted(kfunc, crd_documents, tmp_path):
    crds = [c for c in crd_documents if c["spec"]["names"]["kind"] != "DestinationRule"]
    server = FakeApiServer(ready_after=0.0, crds=crds).start()
    try:
        for version in ("blue", "green"):
            server.add({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": f"fn-{version}"}})
        status, _, err = kfunc("traffic", "switch", "fn", "--to", "blue", "--kubeconfig", write_kubeconfig(tmp_path, server.url))
    finally:
        server.stop()
    assert status == 4
    assert "note: DestinationRule/kfunc-local-gateway (networking.istio.io/v1): no CRD schema for it" in err
    assert patches(server, "virtualservices") == [] and patches(server, "services") == []  # nothing applied


def test_routing_to_a_function_that_does_not_exist_is_refused(kfunc, kubeconfig, fake_cluster):
    status, _, err = kfunc("traffic", "blue-green", "nosuchfn", "--kubeconfig", kubeconfig)
    assert status == 3 and "no Knative Service 'nosuchfn-blue' in namespace 'ml'" in err
    assert [r for r in fake_cluster.requests if r["method"] == "PATCH"] == []


def test_a_service_another_controller_owns_is_not_taken_over_without_force(kfunc, kubeconfig, fake_cluster):
    for name in ("demo-blue", "demo-green", "demo"):
        fake_cluster.add({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": name}})
    fake_cluster.add({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "demo"},
                      "spec": {"type": "ExternalName", "externalName": "kourier.example"}},
                     manager="controller", owner={"apiVersion": "serving.knative.dev/v1", "kind": "Route", "name": "demo"})
    status, _, err = kfunc("traffic", "blue-green", "demo", "--kubeconfig", kubeconfig)
    assert status == 3 and "Service/demo in namespace 'ml' is managed by Route/demo" in err and "--force" in err
    assert patches(fake_cluster, "services") == []
    assert kfunc("traffic", "blue-green", "demo", "--kubeconfig", kubeconfig, "--force")[0] == 0


def test_the_shadow_virtual_service_goes_with_the_mirror(kfunc, kubeconfig, fake_cluster):
    assert kfunc("traffic", "split", "fn", "blue=90", "green=10", "--mirror", "green=5", "--kubeconfig", kubeconfig)[0] == 0
    assert ("virtualservices", "fn-shadow") in routing(fake_cluster)
    status, _, err = kfunc("traffic", "split", "fn", "blue=90", "green=10", "--kubeconfig", kubeconfig)
    assert status == 0, err
    assert ("virtualservices", "fn-shadow") not in routing(fake_cluster) and "deleted VirtualService/fn-shadow" in err


def test_delete_removes_the_routing_and_refuses_a_version_still_serving(kfunc, kubeconfig, fake_cluster):
    assert kfunc("traffic", "split", "fn", "blue=100", "--mirror", "green=5", "--kubeconfig", kubeconfig)[0] == 0
    status, _, err = kfunc("delete", "fn-blue", "--kubeconfig", kubeconfig)
    assert status == 3 and "VirtualService/fn (split): 100%" in err and "kfunc traffic switch" in err and "--force" in err
    assert ("serving.knative.dev", "services", "ml", "fn-blue") in fake_cluster.objects
    status, out, err = kfunc("delete", "fn", "--kubeconfig", kubeconfig)
    assert status == 0, err
    assert sorted(out.split("\n")) == sorted(["", "deleted VirtualService/fn", "deleted VirtualService/fn-shadow",
                                              "deleted Service/fn", "deleted DestinationRule/kfunc-local-gateway"])
    assert routing(fake_cluster) == []
    assert kfunc("delete", "fn-blue", "--kubeconfig", kubeconfig)[0] == 0  # nothing routes to it any more


def test_deleting_a_version_a_route_lists_at_zero_percent_warns(kfunc, kubeconfig, fake_cluster):
    assert kfunc("traffic", "blue-green", "fn", "--kubeconfig", kubeconfig)[0] == 0
    status, out, err = kfunc("delete", "fn-green", "--kubeconfig", kubeconfig)
    assert status == 0 and out == "deleted Service/fn-green\n"
    assert "warning: VirtualService/fn (split) still list 'fn-green'" in err and "--versions" in err
    assert kfunc("delete", "fn-blue", "--kubeconfig", kubeconfig, "--force")[0] == 0  # 100%, forced


@pytest.mark.parametrize("verb", [("switch", "fn", "--to", "green")])
def test_traffic_dry_runs_every_object_before_applying_any(kfunc, kubeconfig, fake_cluster, verb):
    assert kfunc("traffic", *verb, "--kubeconfig", kubeconfig)[0] == 0
    patched = [r for r in fake_cluster.requests if r["method"] == "PATCH"]
    dry = [i for i, r in enumerate(patched) if r["query"].get("dryRun") == "All"]
    assert len(dry) == len(patched) // 2 and max(dry) < min(set(range(len(patched))) - set(dry))


def test_a_cluster_without_istio_says_so_and_applies_nothing(kfunc, crd_documents, tmp_path):
    knative_only = [c for c in crd_documents if c["spec"]["group"].endswith("knative.dev")]
    server = FakeApiServer(ready_after=0.0, crds=knative_only).start()
    try:
        for version in ("blue", "green"):
            server.add({"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": f"fn-{version}"}})
        status, _, err = kfunc("traffic", "blue-green", "fn", "--kubeconfig", write_kubeconfig(tmp_path, server.url))
    finally:
        server.stop()
    assert status == 4 and "Istio is not installed (no networking.istio.io/v1 API" in err
    assert [r for r in server.requests if r["method"] == "PATCH"] == []
