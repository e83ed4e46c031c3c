"""Issue 11's cases against the fake API server made faithful: what an operator hit on a real cluster."""
from __future__ import annotations

import logging

import pytest
import yaml

from knative.cluster_schemas import cluster_schemas
from knative.crd_schema import CrdSchemas
from knative.kube import Kube, KubeError
from knative.validate import validate_objects
from tests.conftest import free_port, write_kubeconfig

from .fake_apiserver import FakeApiServer
from .test_deploy_cmd import PVC_CACHE, warm_job_name

FEATURES = ("knative-serving", "config-features")


@pytest.fixture
def kubeconfig(tmp_path, fake_api) -> str:
    return write_kubeconfig(tmp_path, fake_api.url)


@pytest.fixture
def start_server(crd_documents, tmp_path):
    """``start_server(crds=..., namespaces=..., token=...)``: another fake API server and a kubeconfig for it."""
    started = []

    def start(**options) -> tuple[FakeApiServer, str]:
        server = FakeApiServer(**{"crds": crd_documents, **options}).start()
        server.configmaps[FEATURES] = {}
        started.append(server)
        return server, write_kubeconfig(tmp_path, server.url)

    yield start
    for server in started:
        server.stop()


def jobs(fake_api) -> list[str]:
    return sorted(key[3] for key in fake_api.objects if key[:2] == ("batch", "jobs"))


def test_a_changed_warm_up_template_is_a_new_job_and_the_old_one_goes(kfunc, fake_api, function_dir, kubeconfig):
    fake_api.configmaps[FEATURES] = {"kubernetes.podspec-persistent-volume-claim": "enabled"}
    path = function_dir({**PVC_CACHE, "env": {"LOG_LEVEL": "info"}})
    assert kfunc("deploy", path, "--kubeconfig", kubeconfig, "--warm-cache", "job")[0] == 0
    first = warm_job_name(path)
    path = function_dir({**PVC_CACHE, "env": {"LOG_LEVEL": "debug"}})
    status, _, err = kfunc("deploy", path, "--kubeconfig", kubeconfig, "--warm-cache", "job")
    assert status == 0, err  # was: 422 spec.template: field is immutable
    assert warm_job_name(path) != first and jobs(fake_api) == [warm_job_name(path)]
    assert f"deleted Job/{first}" in err


def test_the_fake_refuses_a_changed_job_template_as_the_api_server_does(kube, fake_api, function_dir):
    from knative import deploy as pipeline
    job = pipeline.prepare(function_dir(PVC_CACHE), warm_cache="job").warm_ups[0]
    kube.apply(job)
    job["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "LOG_LEVEL", "value": "debug"}]
    with pytest.raises(KubeError, match="422.*spec.template.*field is immutable"):
        kube.apply(job, dry_run=True)


def test_a_namespace_scoped_user_deploys_with_the_schemas_of_openapi_v3(kfunc, start_server, function_dir):
    server, kubeconfig = start_server(namespaces={"ml"})
    status, out, err = kfunc("deploy", function_dir({"trigger": {"filters": {"type": "t"}}}), "--kubeconfig", kubeconfig)
    assert status == 0, err  # was: 403 listing CRDs at the cluster scope
    assert out == "http://mlp.ml.example.com\n"
    read = [r["path"] for r in server.requests if r["path"].startswith("/openapi/v3")]
    assert "/openapi/v3/apis/serving.knative.dev/v1" in read and "/openapi/v3/apis/eventing.knative.dev/v1" in read
    assert "no CRD schema" not in err and "cannot read knative-serving/config-features (forbidden)" in err


def test_openapi_schemas_catch_what_the_crds_do(start_server, crd_documents):
    server, _ = start_server(namespaces={"ml"})
    service = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ml"},
               "spec": {"template": {"spec": {"containers": [{"image": "i", "bogus": 1}]}}}}
    schemas = cluster_schemas(Kube.for_host(server.url), [service])
    assert schemas.source == "the cluster's /openapi/v3"
    problems = [str(p) for p in validate_objects([service], schemas).problems]
    assert problems and problems == [str(p) for p in validate_objects([service], CrdSchemas(crd_documents)).problems]


def test_a_cluster_without_knative_serving_says_so(kfunc, start_server, crd_documents, function_dir):
    istio_only = [c for c in crd_documents if c["spec"]["group"] == "networking.istio.io"]
    server, kubeconfig = start_server(crds=istio_only)
    status, out, err = kfunc("deploy", function_dir(), "--kubeconfig", kubeconfig)
    assert status == 4 and out == ""
    assert "Knative Serving is not installed (no serving.knative.dev/v1 API" in err and "b'" not in err
    with pytest.raises(KubeError, match=r"apply Service/s: Knative Serving is not installed"):
        Kube.for_host(server.url).apply({"apiVersion": "serving.knative.dev/v1", "kind": "Service",
                                         "metadata": {"name": "s", "namespace": "ml"}})


def test_a_strict_apply_names_only_the_first_unknown_field(kube):
    service = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ml"},
               "spec": {"bogus": 1, "template": {"spec": {"containers": [{"image": "i", "wrong": 2}]}}}}
    with pytest.raises(KubeError, match=r"500: .*\.spec\.bogus: field not declared in schema") as refused:
        kube.apply(service, dry_run=True)
    assert "wrong" not in str(refused.value)


def test_switching_to_split_and_back_deletes_the_stale_services(kfunc, fake_api, function_dir, kubeconfig):
    def services() -> list[str]:
        return sorted(k[3] for k in fake_api.objects if k[:2] == ("serving.knative.dev", "services"))

    path = function_dir()
    assert kfunc("deploy", path, "--kubeconfig", kubeconfig)[0] == 0 and services() == ["mlp"]
    status, _, err = kfunc("deploy", path, "--kubeconfig", kubeconfig, "--split")
    assert status == 0, err
    assert services() == ["mlp-predictor", "mlp-transformer"] and "deleted Service/mlp" in err
    assert kfunc("deploy", path, "--kubeconfig", kubeconfig)[0] == 0 and services() == ["mlp"]


def test_refused_credentials_name_the_fix(kfunc, start_server, function_dir):
    _, kubeconfig = start_server(token="another-token")
    status, _, err = kfunc("deploy", function_dir(), "--kubeconfig", kubeconfig)
    assert status == 4 and "401" in err and "credentials" in err and "--context" in err


def test_an_unreachable_server_is_one_message_without_retry_warnings(caplog):
    caplog.set_level(logging.WARNING)
    with pytest.raises(KubeError, match="cannot reach the API server at http://127.0.0.1:.*is the cluster up"):
        Kube.for_host(f"http://127.0.0.1:{free_port()}").get("v1", "Service", "ml", "x")
    assert not [r for r in caplog.records if "Retrying" in r.getMessage()]


def test_an_apply_over_another_managers_fields_without_force_is_a_conflict(kube, fake_api):
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "demo", "namespace": "ml"},
               "spec": {"type": "ExternalName", "externalName": "a.example.com"}}
    fake_api.add(dict(service), manager="controller")
    changed = dict(service, spec={"type": "ExternalName", "externalName": "b.example.com"})
    with pytest.raises(KubeError, match='409: .*conflict with "controller": .spec.externalName.*--force'):
        kube.apply(changed, force=False)
    kube.apply(changed)  # forced: kfunc takes the fields over


def test_print_role_prints_the_namespaced_roles(kfunc):
    status, out, err = kfunc("deploy", "--print-role", "-n", "team")
    assert status == 0
    roles = list(yaml.safe_load_all(out))
    assert [(r["kind"], r["metadata"]["namespace"]) for r in roles] == [("Role", "team"), ("Role", "knative-serving")]
    granted = {(g, res) for rule in roles[0]["rules"] for g in rule["apiGroups"] for res in rule["resources"]
               if "patch" in rule["verbs"]}
    assert {("serving.knative.dev", "services"), ("networking.istio.io", "virtualservices"), ("", "services"),
            ("batch", "jobs")} <= granted
    assert "kubectl create rolebinding" in err
