"""``kfunc deploy/describe/delete`` end to end: a kubeconfig pointing at the fake API server."""
from __future__ import annotations

import json

import pytest
import yaml

from functions.config import load_config
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
    assert "note: Trigger/mlp-trigger" in err  # no Eventing CRD in --crds: said, not hidden


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
    assert status == 2 and out == ""
    assert "Service/mlp: spec.template.spec.timeoutSeconds: 900 is over the cluster's maximum of 600s" in err
    assert "deploy.timeout" in err
    status, _, err = kfunc("deploy", path, "--kubeconfig", kubeconfig)
    assert status == 2 and applies(fake_api, dry_run=True) == [] and applies(fake_api, dry_run=False) == []


def test_a_cluster_that_raised_the_timeout_accepts_it(kfunc, function_dir, kubeconfig, fake_api):
    path = function_dir({"env": {"TOKEN": "x"}})
    (path / "kfunc.yaml").write_text((path / "kfunc.yaml").read_text() + "runtime:\n  timeout: 900\n")
    fake_api.configmaps[("knative-serving", "config-defaults")] = {"max-revision-timeout-seconds": "1800"}
    status, _, err = kfunc("deploy", path, "--kubeconfig", kubeconfig)
    assert status == 0, err


def test_disabled_features_stop_with_the_patch_command(kfunc, function_dir, kubeconfig, fake_api):
    path = function_dir({"node-selector": {"accelerator": "a100"}, "gpu": {"count": 1}})
    status, out, err = kfunc("deploy", path, "--kubeconfig", kubeconfig)
    assert status == 2 and out == ""
    assert ("kubectl patch configmap/config-features -n knative-serving --type merge "
            "-p '{\"data\":{\"kubernetes.podspec-nodeselector\":\"enabled\"}}'") in err
    assert applies(fake_api, dry_run=True) == [] and applies(fake_api, dry_run=False) == []
    fake_api.configmaps[("knative-serving", "config-features")] = {"kubernetes.podspec-nodeselector": "enabled"}
    assert kfunc("deploy", path, "--kubeconfig", kubeconfig)[0] == 0


def test_a_server_dry_run_refusal_applies_nothing(kfunc, function_dir, kubeconfig, fake_api):
    fake_api.refusals["mlp"] = (422, 'Service.serving.knative.dev "mlp" is invalid: spec.template: bad')
    status, _, err = kfunc("deploy", function_dir(), "--kubeconfig", kubeconfig)
    assert status == 2 and "answered 422" in err and 'spec.template: bad' in err
    assert applies(fake_api, dry_run=False) == []


def test_a_failing_revision_fails_the_deploy_with_its_reason(kfunc, function_dir, kubeconfig, fake_api):
    fake_api.failures["mlp"] = ("ExitCode1", "exec format error")
    status, out, err = kfunc("deploy", function_dir(), "--kubeconfig", kubeconfig)
    assert status == 2 and out == ""
    assert "ContainerHealthy: ExitCode1: exec format error" in err


def test_missing_image_and_misused_output_are_explained(kfunc, tmp_path):
    (tmp_path / "kfunc.yaml").write_text("name: mlp\n")
    status, _, err = kfunc("deploy", tmp_path, "--dry-run")
    assert status == 2 and "deploy.image: required" in err and "--image" in err
    status, _, err = kfunc("deploy", tmp_path, "-o", "yaml")
    assert status == 2 and "add --dry-run" in err


def test_describe_and_delete(kfunc, function_dir, kubeconfig, fake_api):
    assert kfunc("deploy", function_dir(), "--kubeconfig", kubeconfig)[0] == 0
    status, out, _ = kfunc("describe", "mlp", "--kubeconfig", kubeconfig)
    assert status == 0 and out.startswith("Service ml/mlp\n  URL:      http://mlp.ml.example.com\n  Ready:    Ready=True")
    status, out, _ = kfunc("delete", "mlp", "--kubeconfig", kubeconfig)
    assert status == 0 and out == "deleted Service/mlp\n"
    status, _, err = kfunc("describe", "mlp", "--kubeconfig", kubeconfig, "-n", "ml")
    assert status == 2 and "no function 'mlp' in namespace 'ml'" in err
    assert kfunc("delete", "mlp", "--kubeconfig", kubeconfig)[0] == 2


def test_a_missing_kubeconfig_is_explained(kfunc, function_dir, tmp_path):
    status, _, err = kfunc("deploy", function_dir(), "--kubeconfig", tmp_path / "nope")
    assert status == 2 and "cannot load kubeconfig" in err


def test_a_cluster_without_knative_is_explained(kfunc, function_dir, kubeconfig, fake_api):
    del fake_api.configmaps[("knative-serving", "config-features")]
    status, _, err = kfunc("deploy", function_dir(), "--kubeconfig", kubeconfig)
    assert status == 2 and "is Knative Serving installed?" in err and "scripts/cluster-up.sh" in err
    assert applies(fake_api, dry_run=False) == []
