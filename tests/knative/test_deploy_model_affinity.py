"""``deploy.model-affinity``: a multi-model function's DestinationRule (hashing on X-Kfunc-Model onto
the pods) rendered, validated, dry-run and applied with its Service, on the revision's host; deleted
once it is no longer asked for, and with the function."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import write_kubeconfig

from .test_deploy_cmd import applies

RULE_API = ("networking.istio.io", "destinationrules", "ml", "zoo-model-affinity")


def zoo(tmp_path: Path, model: dict | None = None, **deploy) -> Path:
    config = {"name": "zoo", "model": model or {"repository": "s3://bucket/models/"},
              "deploy": {"image": "registry.local/zoo:1", "namespace": "ml", "scale": {"min": 1}, **deploy}}
    (tmp_path / "kfunc.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def test_the_rule_is_validated_dry_run_and_applied_on_the_ready_revisions_host(kfunc, tmp_path, fake_api, crds_dir):
    kubeconfig = write_kubeconfig(tmp_path, fake_api.url)
    (tmp_path / "fn").mkdir()
    path = zoo(tmp_path / "fn", **{"model-affinity": True})
    status, out, err = kfunc("deploy", path, "--kubeconfig", kubeconfig, "--crds", crds_dir)
    assert status == 0, err
    assert applies(fake_api, dry_run=True) == applies(fake_api, dry_run=False) == ["zoo", "zoo-model-affinity"]
    assert "applied DestinationRule/zoo-model-affinity" in err and "note:" not in err

    service = fake_api.objects[("serving.knative.dev", "services", "ml", "zoo")]
    template = service["spec"]["template"]["metadata"]
    assert template["annotations"]["autoscaling.knative.dev/target-burst-capacity"] == "0"
    revision = service["status"]["latestReadyRevisionName"]
    assert revision == template["name"] and revision.startswith("zoo-")
    rule = fake_api.objects[RULE_API]["spec"]
    assert rule == {"host": f"{revision}.ml.svc.cluster.local",
                    "trafficPolicy": {"loadBalancer": {"consistentHash": {"httpHeaderName": "x-kfunc-model"}}}}

    status, out, _ = kfunc("describe", "zoo", "--kubeconfig", kubeconfig, "-n", "ml")
    assert status == 0 and f"requests hashed on X-Kfunc-Model onto the pods of {revision}.ml.svc" in out

    zoo(tmp_path / "fn", **{"model-affinity": True, "env": {"A": "1"}})  # a new template: a new revision
    assert kfunc("deploy", path, "--kubeconfig", kubeconfig)[0] == 0
    moved = fake_api.objects[RULE_API]["spec"]["host"]
    assert moved != rule["host"] and moved.startswith(fake_api.objects[("serving.knative.dev", "services", "ml", "zoo")]
                                                      ["status"]["latestReadyRevisionName"] + ".")

    zoo(tmp_path / "fn")  # no longer asked for: deleted once the Service is ready
    status, _, err = kfunc("deploy", path, "--kubeconfig", kubeconfig)
    assert status == 0 and "deleted DestinationRule/zoo-model-affinity (no longer part of the function)" in err
    assert RULE_API not in fake_api.objects


def test_delete_removes_the_rule(kfunc, tmp_path, fake_api):
    kubeconfig = write_kubeconfig(tmp_path, fake_api.url)
    (tmp_path / "fn").mkdir()
    path = zoo(tmp_path / "fn", **{"model-affinity": True})
    assert kfunc("deploy", path, "--kubeconfig", kubeconfig)[0] == 0
    status, out, _ = kfunc("delete", "zoo", "--kubeconfig", kubeconfig, "-n", "ml")
    assert status == 0 and "deleted DestinationRule/zoo-model-affinity" in out.splitlines()
    assert RULE_API not in fake_api.objects


def test_mode_raw_puts_the_rule_on_its_kubernetes_service(kfunc, tmp_path):
    path = zoo(tmp_path, **{"model-affinity": True, "mode": "raw", "resources": {"requests": {"cpu": "1"}}})
    status, out, err = kfunc("deploy", path, "--dry-run")
    assert status == 0, err
    (rule,) = [d for d in yaml.safe_load_all(out) if d["kind"] == "DestinationRule"]
    assert rule["spec"]["host"] == "zoo.ml.svc.cluster.local"


@pytest.mark.parametrize("model, deploy, message", [
    ({"uri": "s3://bucket/one/"}, {}, "deploy.model-affinity: only applies to a multi-model function"),
    (None, {"split": True}, "deploy.model-affinity: not with deploy.split"),
    (None, {"mode": "keda"}, "deploy.model-affinity: mode keda's interceptor balances over the pods itself"),
])
def test_model_affinity_where_it_cannot_work_is_refused_naming_the_fix(kfunc, tmp_path, model, deploy, message):
    path = zoo(tmp_path, model, **{"model-affinity": True, **deploy})
    status, out, err = kfunc("deploy", path, "--dry-run")
    assert status == 3 and out == "" and message in err
