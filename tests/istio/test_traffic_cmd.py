"""``kfunc traffic`` end to end: printed objects, and applies to a fake API server through a kubeconfig."""
from __future__ import annotations

import yaml

from istio.status import split_of
from knative.kube import Kube

VIRTUAL_SERVICE = ("networking.istio.io", "virtualservices", "ml", "fn")


def patches(fake_cluster, plural: str) -> list[dict]:
    """The applies (not the dry runs) of objects of ``plural``."""
    return [r for r in fake_cluster.requests
            if r["method"] == "PATCH" and f"/{plural}/" in r["path"] and "dryRun" not in r["query"]]


def test_dry_run_yaml_prints_only_the_objects(kfunc, crds_dir):
    status, out, err = kfunc("traffic", "split", "fn", "blue=90", "green=10", "--header", "x-canary=true -> green",
                             "--mirror", "green=5", "-n", "ml", "--dry-run", "-o", "yaml", "--crds", crds_dir)
    assert status == 0, err
    documents = list(yaml.safe_load_all(out))
    assert [(d["kind"], d["metadata"]["name"]) for d in documents] == [
        ("Service", "fn"), ("VirtualService", "fn"), ("VirtualService", "fn-shadow"), ("DestinationRule", "kfunc-local-gateway")]
    assert split_of(documents[1]) == {"fn-blue": 90, "fn-green": 10}


def test_switch_and_switch_back_are_one_virtual_service_apply_each(kfunc, kubeconfig, fake_cluster):
    status, out, err = kfunc("traffic", "blue-green", "fn", "--host", "fn.example.com", "--kubeconfig", kubeconfig)
    assert status == 0, err
    assert split_of(fake_cluster.objects[VIRTUAL_SERVICE]) == {"fn-blue": 100, "fn-green": 0}
    assert fake_cluster.objects[("", "services", "ml", "fn")]["spec"]["externalName"] == "knative-local-gateway.istio-system.svc.cluster.local"
    for version, expected in (("green", {"fn-blue": 0, "fn-green": 100}), ("blue", {"fn-blue": 100, "fn-green": 0})):
        before = len(patches(fake_cluster, "virtualservices"))
        status, out, err = kfunc("traffic", "switch", "fn", "--to", version, "--host", "fn.example.com", "--kubeconfig", kubeconfig)
        assert status == 0, err
        assert len(patches(fake_cluster, "virtualservices")) == before + 1
        assert split_of(fake_cluster.objects[VIRTUAL_SERVICE]) == expected
        assert out.strip() == f"fn: {' '.join(f'{k[3:]}={v}' for k, v in expected.items())}"
    assert {r["query"]["fieldManager"] for r in fake_cluster.requests if r["method"] == "PATCH"} == {"kfunc"}


def test_bad_input_applies_nothing_and_names_the_fix(kfunc, kubeconfig, fake_cluster):
    status, out, err = kfunc("traffic", "split", "fn", "blue=90", "green=20", "--kubeconfig", kubeconfig)
    assert status == 3
    assert "sum to 110, want 100" in err
    status, out, err = kfunc("traffic", "split", "fn", "blue=90", "green=10", "--header", "x-canary=true -> purple",
                             "--kubeconfig", kubeconfig)
    assert status == 3
    assert "unknown version 'purple'" in err
    assert patches(fake_cluster, "virtualservices") == []


def test_output_without_dry_run_is_refused(kfunc, kubeconfig):
    status, _, err = kfunc("traffic", "split", "fn", "blue=100", "-o", "yaml", "--kubeconfig", kubeconfig)
    assert status == 3
    assert "add --dry-run" in err


def test_status_shows_the_live_split(kfunc, kubeconfig):
    kfunc("traffic", "split", "fn", "blue=75", "green=25", "--header", "x-canary=true -> green", "--kubeconfig", kubeconfig)
    status, out, err = kfunc("traffic", "status", "fn", "--kubeconfig", kubeconfig)
    assert status == 0, err
    assert "green-by-x-canary: x-canary exact 'true' -> fn-green 100%" in out
    assert "split: all other requests -> fn-blue 75%, fn-green 25%" in out


def test_revision_canary_and_rollback_patch_the_traffic_block_under_its_own_manager(kfunc, kubeconfig, fake_cluster):
    service = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "fn", "namespace": "ml"},
               "spec": {"template": {"spec": {"containers": [{"image": "registry.local/fn:1"}]}}}}
    Kube.for_host(fake_cluster.url).apply(service)  # the fake reports fn-00001 serving 100%
    status, out, err = kfunc("traffic", "revisions", "fn", "canary", "10", "--kubeconfig", kubeconfig)
    assert status == 0, err
    stored = fake_cluster.objects[("serving.knative.dev", "services", "ml", "fn")]
    assert [(t.get("revisionName"), t["percent"], t["tag"]) for t in stored["spec"]["traffic"]] == [
        (None, 10, "latest"), ("fn-00001", 90, "prev")]
    assert patches(fake_cluster, "services")[-1]["query"]["fieldManager"] == "kfunc-traffic"
    status, out, err = kfunc("traffic", "revisions", "fn", "rollback", "--kubeconfig", kubeconfig)
    assert status == 0, err
    assert out.strip() == "fn: latest 0% (tag latest), fn-00001 100% (tag prev)"


def test_rollout_dry_run_prints_the_plan(kfunc):
    status, out, err = kfunc("rollout", "fn", "--to", "green", "--steps", "10,100", "--interval", "30s",
                             "--max-error-rate", "2%", "--max-p99", "300ms", "--dry-run")
    assert status == 0, err
    assert out.splitlines() == [
        "step 1/2: blue=90 green=10, then watch 30s: error rate <= 2.00%, p99 <= 300ms, at least 1 request(s)",
        "step 2/2: blue=0 green=100, then watch 30s: error rate <= 2.00%, p99 <= 300ms, at least 1 request(s)",
        "on a failed check: blue=100 green=0 (roll back)",
    ]
