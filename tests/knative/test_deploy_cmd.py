"""``kfunc deploy/describe/delete`` end to end: a kubeconfig pointing at the fake API server."""
from __future__ import annotations

import json

import pytest
import yaml

from functions.config import load_config
from knative import deploy as pipeline
from knative.manifests import render, to_yaml
from knative.settings import load_deploy_settings
from tests.conftest import write_kubeconfig


@pytest.fixture
def kubeconfig(tmp_path, fake_api) -> str:
    return write_kubeconfig(tmp_path, fake_api.url)


def applies(fake_api, dry_run: bool) -> list[str]:
    return [r["path"].rsplit("/", 1)[-1] for r in fake_api.requests
            if r["method"] == "PATCH" and (r["query"].get("dryRun") == "All") == dry_run]


def test_deploy_dry_runs_everything_applies_waits_and_prints_the_url(kfunc, function_dir, kubeconfig, fake_api, crds_dir):
    path = function_dir({"split": True, "trigger": {"filters": {"type": "t"}}})
    status, out, err = kfunc("deploy", path, "--kubeconfig", kubeconfig, "--crds", crds_dir)
    assert status == 0, err
    assert out == "http://mlp-transformer.ml.example.com\n"
    assert applies(fake_api, dry_run=True) == ["mlp-predictor", "mlp-transformer", "mlp-trigger"]
    assert applies(fake_api, dry_run=False) == ["mlp-predictor", "mlp-transformer", "mlp-trigger"]
    first_apply = next(i for i, r in enumerate(fake_api.requests) if r["method"] == "PATCH" and "dryRun" not in r["query"])
    last_dry_run = max(i for i, r in enumerate(fake_api.requests) if r["query"].get("dryRun") == "All")
    assert last_dry_run < first_apply
    assert {r["authorization"] for r in fake_api.requests} == {"Bearer not-a-secret"}  # the kubeconfig's token
    assert "mlp-predictor: Ready=True" in err and "mlp-transformer is ready at http://mlp-transformer.ml.example.com" in err
    assert "note:" not in err  # --crds has every kind's schema: nothing left unchecked


def test_dry_run_prints_exactly_the_manifests(kfunc, function_dir):
    path = function_dir({"gpu": {"count": 1}, "namespace": "ml"})
    status, out, err = kfunc("deploy", path, "--dry-run", "-o", "yaml")
    assert status == 0, err
    config = load_config(path)
    assert out == to_yaml(render(config, load_deploy_settings(config)).objects)
    assert [o["kind"] for o in yaml.safe_load_all(out)] == ["Service"]
    status, out_json, _ = kfunc("deploy", path, "--dry-run", "-o", "json", "--image", "other:2")
    assert json.loads(out_json)[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "other:2"


def test_refused_manifests_stop_before_the_cluster(kfunc, function_dir, kubeconfig, fake_api, crds_dir):
    path = function_dir({"env": {"TOKEN": "x"}})
    text = (path / "kfunc.yaml").read_text() + "runtime:\n  timeout: 900\n"
    (path / "kfunc.yaml").write_text(text)
    status, out, err = kfunc("deploy", path, "--dry-run", "--crds", crds_dir)
    assert status == 3 and out == ""
    assert "Service/mlp: spec.template.spec.timeoutSeconds: 900 is over the cluster's maximum of 600s" in err
    assert "deploy.timeout" in err
    status, _, err = kfunc("deploy", path, "--kubeconfig", kubeconfig)
    assert status == 3 and applies(fake_api, dry_run=True) == [] and applies(fake_api, dry_run=False) == []


def test_a_cluster_that_raised_the_timeout_accepts_it(kfunc, function_dir, kubeconfig, fake_api):
    path = function_dir({"env": {"TOKEN": "x"}})
    (path / "kfunc.yaml").write_text((path / "kfunc.yaml").read_text() + "runtime:\n  timeout: 900\n")
    fake_api.configmaps[("knative-serving", "config-defaults")] = {"max-revision-timeout-seconds": "1800"}
    status, _, err = kfunc("deploy", path, "--kubeconfig", kubeconfig)
    assert status == 0, err


def test_disabled_features_stop_with_the_patch_command(kfunc, function_dir, kubeconfig, fake_api):
    path = function_dir({"node-selector": {"accelerator": "a100"}, "gpu": {"count": 1}})
    status, out, err = kfunc("deploy", path, "--kubeconfig", kubeconfig)
    assert status == 3 and out == ""
    assert ("kubectl patch configmap/config-features -n knative-serving --type merge "
            "-p '{\"data\":{\"kubernetes.podspec-nodeselector\":\"enabled\"}}'") in err
    assert applies(fake_api, dry_run=True) == [] and applies(fake_api, dry_run=False) == []
    fake_api.configmaps[("knative-serving", "config-features")] = {"kubernetes.podspec-nodeselector": "enabled"}
    assert kfunc("deploy", path, "--kubeconfig", kubeconfig)[0] == 0


def test_a_server_dry_run_refusal_applies_nothing(kfunc, function_dir, kubeconfig, fake_api):
    fake_api.refusals["mlp"] = (422, 'Service.serving.knative.dev "mlp" is invalid: spec.template: bad')
    status, _, err = kfunc("deploy", function_dir(), "--kubeconfig", kubeconfig)
    assert status == 4 and "answered 422" in err and 'spec.template: bad' in err
    assert applies(fake_api, dry_run=False) == []


def test_a_failing_revision_fails_the_deploy_with_its_reason(kfunc, function_dir, kubeconfig, fake_api):
    fake_api.failures["mlp"] = ("ExitCode1", "exec format error")
    status, out, err = kfunc("deploy", function_dir(), "--kubeconfig", kubeconfig)
    assert status == 4 and out == ""
    assert "ContainerHealthy: ExitCode1: exec format error" in err


def test_missing_image_and_misused_output_are_explained(kfunc, tmp_path):
    (tmp_path / "kfunc.yaml").write_text("name: mlp\n")
    status, _, err = kfunc("deploy", tmp_path, "--dry-run")
    assert status == 3 and "deploy.image: required" in err and "--image" in err
    status, _, err = kfunc("deploy", tmp_path, "-o", "yaml")
    assert status == 3 and "add --dry-run" in err


def test_describe_and_delete(kfunc, function_dir, kubeconfig, fake_api):
    assert kfunc("deploy", function_dir(), "--kubeconfig", kubeconfig)[0] == 0
    status, out, _ = kfunc("describe", "mlp", "--kubeconfig", kubeconfig)
    assert status == 0 and out.startswith("Service ml/mlp\n  URL:      http://mlp.ml.example.com\n  Ready:    Ready=True")
    status, out, _ = kfunc("delete", "mlp", "--kubeconfig", kubeconfig)
    assert status == 0 and out == "deleted Service/mlp\n"
    status, _, err = kfunc("describe", "mlp", "--kubeconfig", kubeconfig, "-n", "ml")
    assert status == 3 and "no function 'mlp' in namespace 'ml'" in err
    assert kfunc("delete", "mlp", "--kubeconfig", kubeconfig)[0] == 3


def test_a_missing_kubeconfig_is_explained(kfunc, function_dir, tmp_path):
    status, _, err = kfunc("deploy", function_dir(), "--kubeconfig", tmp_path / "nope")
    assert status == 3 and "cannot load kubeconfig" in err


def test_a_cluster_without_knative_is_explained(kfunc, function_dir, kubeconfig, fake_api):
    del fake_api.configmaps[("knative-serving", "config-features")]
    status, _, err = kfunc("deploy", function_dir(), "--kubeconfig", kubeconfig)
    assert status == 4 and "is Knative Serving installed?" in err and "scripts/cluster-up.sh" in err
    assert applies(fake_api, dry_run=False) == []


PVC_CACHE = {"cache": {"volume": "pvc", "claim": "models", "read-only": True}}
HOST_PATH_CACHE = {"cache": {"volume": "hostPath", "path": "/mnt/models"}}


def warm_job_name(path) -> str:
    return pipeline.prepare(path, warm_cache="job").warm_ups[0]["metadata"]["name"]


@pytest.fixture
def pvc_cluster(fake_api, function_dir) -> str:
    """A function with a read-only pvc cache, on a cluster whose Knative allows PVCs; returns its directory."""
    fake_api.configmaps[("knative-serving", "config-features")] = {"kubernetes.podspec-persistent-volume-claim": "enabled"}
    return function_dir(PVC_CACHE)


def test_dry_run_prints_the_cache_warm_up_first_without_noise(kfunc, function_dir, crds_dir):
    status, out, err = kfunc("deploy", function_dir(PVC_CACHE), "--dry-run", "-o", "yaml", "--warm-cache", "job",
                             "--crds", crds_dir)
    assert status == 0 and err == ""  # the Job has no CRD; the server dry run checks it, so no note
    job, service = yaml.safe_load_all(out)
    assert (job["kind"], service["kind"]) == ("Job", "Service")
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "cache-warm"
    assert job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "models"

    from_yaml = function_dir({"cache": {**HOST_PATH_CACHE["cache"], "warm": "daemonset"}})
    status, out, err = kfunc("deploy", from_yaml, "--dry-run", "-o", "json")
    assert status == 0, err
    assert [o["kind"] for o in json.loads(out)] == ["DaemonSet", "Service"]
    status, out, err = kfunc("deploy", from_yaml, "--dry-run", "--warm-cache", "job")
    assert status == 3 and out == "" and "a hostPath cache is per node; use daemonset" in err


def test_deploy_waits_for_the_warm_up_job_before_applying_the_service(kfunc, pvc_cluster, kubeconfig, fake_api):
    status, out, err = kfunc("deploy", pvc_cluster, "--kubeconfig", kubeconfig, "--warm-cache", "job")
    assert status == 0, err
    assert out == "http://mlp.ml.example.com\n"
    job = warm_job_name(pvc_cluster)
    assert applies(fake_api, dry_run=True) == [job, "mlp"] and applies(fake_api, dry_run=False) == [job, "mlp"]
    job_applied = fake_api.applied_at[("batch", "jobs", "ml", job)]
    service_applied = fake_api.applied_at[("serving.knative.dev", "services", "ml", "mlp")]
    assert service_applied - job_applied >= fake_api.ready_after  # the Job only completes after ready_after
    progress = [f"applied Job/{job}", f"Job/{job}: cache warmed", "applied Service/mlp", "mlp: Ready=True"]
    assert [err.index(line) for line in progress] == sorted(err.index(line) for line in progress)


def test_a_failed_warm_up_stops_the_deploy_before_the_service(kfunc, pvc_cluster, kubeconfig, fake_api):
    job = warm_job_name(pvc_cluster)
    fake_api.failures[job] = ("Error", "kfunc cache: s3://models/mlp: AccessDenied\nno credentials for bucket models")
    status, out, err = kfunc("deploy", pvc_cluster, "--kubeconfig", kubeconfig, "--warm-cache", "job")
    assert status == 4 and out == ""
    assert f"Job ml/{job} failed to warm the cache: BackoffLimitExceeded" in err
    assert (f"pod {job}-x7k2p: container warm: Error (exit code 2): kfunc cache: s3://models/mlp: AccessDenied\n"
            "    no credentials for bucket models") in err
    assert f"kubectl delete job {job} -n ml" in err
    assert applies(fake_api, dry_run=False) == [job]
    assert ("serving.knative.dev", "services", "ml", "mlp") not in fake_api.objects


def test_a_warm_up_past_the_deploy_timeout_applies_no_service(kfunc, pvc_cluster, kubeconfig, fake_api):
    fake_api.ready_after = 60
    status, _, err = kfunc("deploy", pvc_cluster, "--kubeconfig", kubeconfig, "--warm-cache", "job", "--timeout", "1")
    assert status == 5 and "had not warmed the cache after 1s; last: warming the cache" in err
    assert applies(fake_api, dry_run=False) == [warm_job_name(pvc_cluster)]


def test_a_daemonset_warm_up_waits_for_every_node(kfunc, function_dir, kubeconfig, fake_api):
    fake_api.configmaps[("knative-serving", "config-features")] = {"kubernetes.podspec-volumes-hostpath": "enabled"}
    fake_api.daemonset_nodes = 3
    path = function_dir({"cache": {**HOST_PATH_CACHE["cache"], "warm": "daemonset"}})
    status, _, err = kfunc("deploy", path, "--kubeconfig", kubeconfig)
    assert status == 0, err
    assert err.index("DaemonSet/mlp-cache-warm: waiting for the DaemonSet controller") \
        < err.index("DaemonSet/mlp-cache-warm: 3/3 nodes warmed") < err.index("applied Service/mlp")


def test_delete_removes_the_cache_warm_up(kfunc, pvc_cluster, kubeconfig, fake_api):
    assert kfunc("deploy", pvc_cluster, "--kubeconfig", kubeconfig, "--warm-cache", "job")[0] == 0
    job = warm_job_name(pvc_cluster)
    status, out, _ = kfunc("delete", "mlp", "--kubeconfig", kubeconfig)
    assert status == 0 and out == f"deleted Service/mlp\ndeleted Job/{job}\n"
    assert [key for key in fake_api.objects if key[1] in ("jobs", "services")] == []
    (job_delete,) = [r for r in fake_api.requests if r["method"] == "DELETE" and r["path"].endswith(f"/jobs/{job}")]
    assert job_delete["query"]["propagationPolicy"] == "Background"  # else the Job's pods are orphaned
