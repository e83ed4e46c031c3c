"""The kube interface against a real HTTP fake API server: apply, dry run, wait, describe, delete."""
from __future__ import annotations

import copy

import pytest

from knative.cache_warm import render_cache_warm
from knative.inventory import delete_function, describe
from knative.kube import Kube, KubeError, resource_path
from knative.manifests import render
from knative.readiness import DeployFailed, DeployTimeout, wait_ready
from knative.settings import load_deploy_settings
from knative.warm_wait import wait_warmed

SERVICES = ("serving.knative.dev", "services", "default")


@pytest.fixture
def service(make_config) -> dict:
    config = make_config()
    return render(config, load_deploy_settings(config)).services[0]


def test_apply_creates_and_returns_the_object_with_field_manager_kfunc(kube, fake_api, service):
    created = kube.apply(service)
    assert created["metadata"]["name"] == "mlp" and created["metadata"]["generation"] == 1
    assert (*SERVICES, "mlp") in fake_api.objects
    request = fake_api.requests[-1]
    assert request["method"] == "PATCH" and request["content_type"] == "application/apply-patch+yaml"
    assert request["query"]["fieldManager"] == "kfunc" and request["query"]["force"] == "true"
    assert kube.apply(service)["metadata"]["uid"] == created["metadata"]["uid"]  # 200 on update


def test_apply_under_another_field_manager_sends_and_records_it(kube, fake_api, service):
    traffic = {"apiVersion": service["apiVersion"], "kind": "Service", "metadata": {"name": "mlp", "namespace": "default"},
               "spec": {"traffic": [{"latestRevision": True, "percent": 100}]}}
    applied = kube.apply(traffic, field_manager="kfunc-traffic")
    assert fake_api.requests[-1]["query"]["fieldManager"] == "kfunc-traffic"
    assert applied["metadata"]["managedFields"] == [{"manager": "kfunc-traffic", "operation": "Apply"}]
    assert fake_api.objects[(*SERVICES, "mlp")]["spec"]["traffic"] == traffic["spec"]["traffic"]


def test_core_objects_live_under_api_v1(kube, fake_api):
    external = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "fn", "namespace": "ml"},
                "spec": {"type": "ExternalName", "externalName": "knative-local-gateway.istio-system.svc.cluster.local"}}
    assert kube.apply(external, dry_run=True)["spec"] == external["spec"]
    assert kube.get("v1", "Service", "ml", "fn") is None  # the dry run stored nothing
    assert kube.apply(external)["metadata"]["managedFields"][0]["manager"] == "kfunc"
    assert fake_api.requests[-1]["path"] == "/api/v1/namespaces/ml/services/fn"
    assert kube.get("v1", "Service", "ml", "fn")["spec"]["externalName"] == external["spec"]["externalName"]
    assert fake_api.objects.keys() == {("", "services", "ml", "fn")}
    assert kube.delete("v1", "Service", "ml", "fn") and not kube.delete("v1", "Service", "ml", "fn")


def test_server_dry_run_validates_without_storing(kube, fake_api, service):
    answer = kube.apply(service, dry_run=True)
    assert answer["spec"] == service["spec"]
    assert fake_api.requests[-1]["query"]["dryRun"] == "All"
    assert fake_api.objects == {}


def test_a_refusal_carries_the_servers_message(kube, fake_api, service):
    fake_api.refusals["mlp"] = (500, 'failed to create typed patch object: .spec.template.spec.foo: field not declared in schema')
    with pytest.raises(KubeError) as caught:
        kube.apply(service, dry_run=True)
    assert caught.value.http_status == 500 and "field not declared in schema" in str(caught.value)


def test_reads_of_missing_things_are_none(kube):
    assert kube.get("serving.knative.dev/v1", "Service", "default", "nope") is None
    assert kube.get_configmap("knative-serving", "config-defaults") is None
    assert kube.get_configmap("knative-serving", "config-features") == {}


def test_lists_crds_as_plain_dicts(kube, fake_api, crd_documents):
    fake_api.crds = crd_documents
    names = sorted(c["metadata"]["name"] for c in kube.list_crds())
    assert "services.serving.knative.dev" in names and len(names) == len(crd_documents)


def test_wait_reports_progress_until_ready(kube, service):
    kube.apply(service)
    seen = []
    state = wait_ready(kube, "default", "mlp", timeout_s=10, on_progress=seen.append)
    assert state.url == "http://mlp.default.example.com" and state.latest_revision == "mlp-00001"
    assert seen[0] == "mlp: waiting for Knative to reconcile the new generation" and seen[-1] == "mlp: Ready=True"


def test_an_update_waits_for_the_new_generation(kube, fake_api, service):
    kube.apply(service)
    wait_ready(kube, "default", "mlp", timeout_s=10)
    changed = copy.deepcopy(service)
    changed["spec"]["template"]["spec"]["containerConcurrency"] = 2
    kube.apply(changed)
    stale = fake_api.objects[(*SERVICES, "mlp")]["status"]
    assert stale["conditions"][0]["status"] == "True"  # still the previous revision's Ready
    assert wait_ready(kube, "default", "mlp", timeout_s=10).latest_revision == "mlp-00002"


def test_a_failed_revision_shows_its_reason_and_message(kube, fake_api, service):
    fake_api.failures["mlp"] = ("ExitCode1", "Container failed with: ModuleNotFoundError: No module named 'torch'")
    kube.apply(service)
    with pytest.raises(DeployFailed) as caught:
        wait_ready(kube, "default", "mlp", timeout_s=10)
    message = str(caught.value)
    assert "RevisionFailed" in message and "revision mlp-00001: ContainerHealthy: ExitCode1:" in message
    assert "No module named 'torch'" in message and "kubectl describe revision mlp-00001" in message


def test_waiting_gives_up_after_the_timeout(kube, fake_api, service):
    fake_api.ready_after = 60
    kube.apply(service)
    with pytest.raises(DeployTimeout, match="not Ready after 1s; last: waiting for Knative"):
        wait_ready(kube, "default", "mlp", timeout_s=0.6)


def test_describe_and_delete_find_the_functions_objects_by_label(kube, fake_api, make_config):
    config = make_config({"split": True, "trigger": {"filters": {"type": "t"}}})
    fake_api.failures["mlp-transformer"] = ("ExitCode1", "boom")
    for obj in render(config, load_deploy_settings(config)).objects:
        kube.apply(obj)
    wait_ready(kube, "default", "mlp-predictor", timeout_s=10)
    text = describe(kube, "default", "mlp")
    assert "Service default/mlp-predictor\n  URL:      http://mlp-predictor.default.example.com\n  Ready:    Ready=True" in text
    assert "Traffic:  100% -> mlp-predictor-00001 (latest)" in text
    assert "Failing:  ContainerHealthy: ExitCode1: boom" in text
    assert "Trigger default/mlp-trigger\n  broker:   default  filters: {'type': 't'}  -> mlp-transformer" in text
    assert sorted(delete_function(kube, "default", "mlp")) == ["Service/mlp-predictor", "Service/mlp-transformer", "Trigger/mlp-trigger"]
    assert [k for k in fake_api.objects if k[1] != "revisions"] == []
    assert delete_function(kube, "default", "mlp") == []


def test_an_unreachable_server_is_a_clear_error(service):
    kube = Kube.for_host("http://127.0.0.1:9")
    kube.api_client.configuration.retries = 0
    with pytest.raises(KubeError, match="cannot reach the API server at http://127.0.0.1:9"):
        kube.apply(service)


def test_warm_up_kinds_live_under_their_groups_and_list_with_their_kind(kube, fake_api, make_config):
    assert resource_path("batch/v1", "Job", "ml", "w") == "/apis/batch/v1/namespaces/ml/jobs/w"
    assert resource_path("apps/v1", "DaemonSet", "ml", "w") == "/apis/apps/v1/namespaces/ml/daemonsets/w"
    config = make_config({"cache": {"volume": "hostPath", "path": "/mnt/models"}})
    daemonset = render_cache_warm(config, load_deploy_settings(config), "daemonset")
    kube.apply(daemonset, dry_run=True)
    kube.apply(daemonset)
    assert fake_api.requests[-1]["path"] == "/apis/apps/v1/namespaces/default/daemonsets/mlp-cache-warm"
    (listed,) = kube.list_labeled("apps/v1", "DaemonSet", "default", "app.kubernetes.io/component=cache-warm")
    assert (listed["apiVersion"], listed["kind"]) == ("apps/v1", "DaemonSet")  # the server's list item has neither
    assert kube.delete("apps/v1", "DaemonSet", "default", "mlp-cache-warm")
    assert fake_api.requests[-1]["query"] == {"propagationPolicy": "Background"}


def test_a_changed_daemonset_is_waited_for_again_and_one_on_no_node_does_not_block(kube, fake_api, make_config):
    config = make_config({"cache": {"volume": "hostPath", "path": "/mnt/models"}})
    daemonset = render_cache_warm(config, load_deploy_settings(config), "daemonset")
    kube.apply(daemonset)
    seen = []
    wait_warmed(kube, daemonset, timeout_s=10, on_progress=seen.append)
    assert seen == ["DaemonSet/mlp-cache-warm: waiting for the DaemonSet controller",
                    "DaemonSet/mlp-cache-warm: 2/2 nodes warmed"]
    changed = copy.deepcopy(daemonset)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.local/mlp:2"
    fake_api.daemonset_nodes = 0
    kube.apply(changed)  # the stored status still says 2/2 ready, for the previous generation
    seen.clear()
    wait_warmed(kube, changed, timeout_s=10, on_progress=seen.append)
    assert seen == ["DaemonSet/mlp-cache-warm: waiting for the DaemonSet controller",
                    "DaemonSet/mlp-cache-warm: no node matches its node selector yet; nodes are warmed as they join"]
