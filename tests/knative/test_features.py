"""Preflight against knative-serving/config-features: stop with the exact kubectl patch."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from knative.features import DEFAULTS, FeaturesDisabled, preflight
from knative.manifests import render
from knative.settings import load_deploy_settings

GPU_PLACEMENT = {"gpu": {"count": 1}, "node-selector": {"accelerator": "a100"},
                 "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                 "runtime-class": "nvidia", "cache": {"volume": "pvc", "claim": "models"}}


def objects(make_config, deploy):
    config = make_config(deploy)
    return render(config, load_deploy_settings(config)).objects


def patched_flags(command: str) -> dict[str, str]:
    match = re.fullmatch(r"kubectl patch configmap/config-features -n knative-serving --type merge -p '(.*)'", command)
    assert match, command
    return json.loads(match.group(1))["data"]


def test_a_plain_cpu_function_needs_no_flag(make_config):
    preflight(objects(make_config, {}), {})  # emptyDir cache is enabled by default


def test_disabled_flags_stop_with_one_patch_enabling_them_all(make_config):
    with pytest.raises(FeaturesDisabled) as caught:
        preflight(objects(make_config, GPU_PLACEMENT), {})
    assert patched_flags(caught.value.patch_command) == {
        "kubernetes.podspec-nodeselector": "enabled", "kubernetes.podspec-tolerations": "enabled",
        "kubernetes.podspec-runtimeclassname": "enabled", "kubernetes.podspec-persistent-volume-claim": "enabled",
        "kubernetes.podspec-persistent-volume-write": "enabled",
    }
    message = str(caught.value)
    assert "Service/mlp: spec.template.spec.nodeSelector needs kubernetes.podspec-nodeselector (now 'disabled')" in message
    assert caught.value.patch_command in message and "KnativeServing" in message


def test_enabled_flags_pass_and_allowed_suffices_only_for_pod_fields(make_config):
    data = {flag: "Enabled" for flag in DEFAULTS}
    preflight(objects(make_config, GPU_PLACEMENT), data)
    data = {flag: "allowed" for flag in DEFAULTS}
    with pytest.raises(FeaturesDisabled) as caught:
        preflight(objects(make_config, GPU_PLACEMENT), data)
    assert set(patched_flags(caught.value.patch_command)) == {
        "kubernetes.podspec-persistent-volume-claim", "kubernetes.podspec-persistent-volume-write"}


def test_read_only_pvc_needs_no_write_flag(make_config):
    deploy = {"cache": {"volume": "pvc", "claim": "models", "read-only": True}}
    preflight(objects(make_config, deploy), {"kubernetes.podspec-persistent-volume-claim": "enabled"})


@pytest.mark.parametrize("deploy, flag", [
    ({"cache": {"volume": "hostPath", "path": "/mnt/models"}}, "kubernetes.podspec-volumes-hostpath"),
    ({}, "kubernetes.podspec-volumes-emptydir"),
])
def test_volume_flags(make_config, deploy, flag):
    with pytest.raises(FeaturesDisabled) as caught:
        preflight(objects(make_config, deploy), {flag: "disabled"})
    assert patched_flags(caught.value.patch_command) == {flag: "enabled"}


def test_affinity_and_init_containers_are_checked_too(make_config):
    service = objects(make_config, {})[0]
    service["spec"]["template"]["spec"]["affinity"] = {"nodeAffinity": {}}
    service["spec"]["template"]["spec"]["initContainers"] = [{"name": "fetch", "image": "busybox"}]
    with pytest.raises(FeaturesDisabled) as caught:
        preflight([service], {})
    assert set(patched_flags(caught.value.patch_command)) == {"kubernetes.podspec-affinity", "kubernetes.podspec-init-containers"}


def test_defaults_match_knatives_shipped_config_features(crds_dir):
    configmap = yaml.safe_load((crds_dir / "knative-serving-config-features.yaml").read_text())
    example = yaml.safe_load("\n".join(line for line in configmap["data"]["_example"].splitlines()
                                       if not line.lstrip().startswith("#")))
    assert {flag: example[flag] for flag in DEFAULTS} == DEFAULTS
