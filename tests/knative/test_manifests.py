"""Rendered Knative objects: what a user's kfunc.yaml turns into, and that the real CRDs accept it."""
from __future__ import annotations

import pytest
import yaml

from knative import probes
from knative.manifests import render, to_yaml
from knative.settings import load_deploy_settings
from knative.validate import validate_objects


def rendered(make_config, deploy=None, **top):
    config = make_config(deploy, **top)
    return render(config, load_deploy_settings(config))


def only_service(result) -> dict:
    (service,) = result.services
    return service


def container_of(service: dict) -> dict:
    return service["spec"]["template"]["spec"]["containers"][0]


def env_of(service: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container_of(service)["env"]}


def test_cpu_service_scales_to_zero_and_matches_the_runtime(make_config):
    service = only_service(rendered(make_config))
    assert (service["apiVersion"], service["kind"]) == ("serving.knative.dev/v1", "Service")
    template = service["spec"]["template"]
    assert template["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "0"
    assert template["spec"]["containerConcurrency"] == 8  # 2 workers x 4 threads
    assert template["spec"]["timeoutSeconds"] == 300
    container = container_of(service)
    assert container["ports"] == [{"name": "http1", "containerPort": 8080}]  # deploy.protocol's default
    assert "resources" not in container and "nodeSelector" not in template["spec"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert env_of(service) == {"KFUNC_MODEL_URI": "s3://models/mlp", "KFUNC_CACHE_DIR": "/var/cache/kfunc"}


@pytest.mark.parametrize("deploy, runtime, concurrency, cpus", [
    ({"resources": {"limits": {"cpu": "2"}}}, {"batch": {"max-batch-size": 16}}, 32, "2"),  # 2 workers x 16
    ({"resources": {"requests": {"cpu": "500m"}}}, {}, 4, "1"),  # 1 worker x 4 threads
    ({"gpu": {"count": 2}, "resources": {"limits": {"cpu": "8"}}}, {}, 8, "8"),  # a worker per GPU x 4
], ids=["cpu-limit-batching", "cpu-request", "gpu"])
def test_automatic_workers_and_threads_follow_the_pod_and_tell_the_container(make_config, deploy, runtime,
                                                                             concurrency, cpus):
    service = only_service(rendered(make_config, deploy, runtime=runtime))
    assert service["spec"]["template"]["spec"]["containerConcurrency"] == concurrency
    assert env_of(service)["KFUNC_CPUS"] == cpus  # the container plans for the same cores


def test_autoscaling_settings_become_template_annotations_only(make_config):
    service = only_service(rendered(make_config, {"scale": {
        "min": 1, "max": 5, "initial": 2, "target": 10, "metric": "rps", "utilization": 70,
        "scale-down-delay": "5m", "retention": "1m", "window": "2m"}}))
    assert service["spec"]["template"]["metadata"]["annotations"] == {
        "autoscaling.knative.dev/min-scale": "1", "autoscaling.knative.dev/max-scale": "5",
        "autoscaling.knative.dev/initial-scale": "2", "autoscaling.knative.dev/metric": "rps",
        "autoscaling.knative.dev/target": "10", "autoscaling.knative.dev/target-utilization-percentage": "70",
        "autoscaling.knative.dev/window": "2m", "autoscaling.knative.dev/scale-down-delay": "5m",
        "autoscaling.knative.dev/scale-to-zero-pod-retention-period": "1m",
        "serving.knative.dev/progress-deadline": "600s",
    }
    assert "annotations" not in service["metadata"]


def test_explicit_concurrency_and_timeout_win(make_config):
    spec = only_service(rendered(make_config, {"concurrency": 1, "timeout": 120}))["spec"]["template"]["spec"]
    assert (spec["containerConcurrency"], spec["timeoutSeconds"]) == (1, 120)


@pytest.mark.parametrize("vendor, resource", [("nvidia", "nvidia.com/gpu"), ("amd", "amd.com/gpu"), ("intel", "gpu.intel.com/i915")])
def test_gpu_service_requests_the_vendor_resource_and_placement(make_config, vendor, resource):
    tolerations = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    service = only_service(rendered(make_config, {
        "gpu": {"count": 2, "vendor": vendor}, "resources": {"limits": {"memory": "16Gi"}, "requests": {"cpu": "2"}},
        "node-selector": {"accelerator": "a100"}, "tolerations": tolerations, "runtime-class": "nvidia"}))
    spec = service["spec"]["template"]["spec"]
    assert container_of(service)["resources"] == {"requests": {"cpu": "2"}, "limits": {"memory": "16Gi", resource: 2}}
    assert spec["nodeSelector"] == {"accelerator": "a100"} and spec["tolerations"] == tolerations
    assert spec["runtimeClassName"] == "nvidia"


def test_a_multi_model_pod_is_sized_from_its_memory_budget_unless_memory_is_set(make_config):
    top = {"model": {"repository": "s3://models/zoo/"}, "runtime": {"memory-budget": "6Gi"}}
    sized = container_of(only_service(rendered(make_config, **top)))["resources"]
    assert sized == {"requests": {"memory": "8192Mi"}, "limits": {"memory": "8192Mi"}}  # 6Gi is 75% of it
    chosen = container_of(only_service(rendered(make_config, {"resources": {"limits": {"memory": "12Gi"}}}, **top)))
    assert chosen["resources"] == {"limits": {"memory": "12Gi"}}


@pytest.mark.parametrize("size_gb", [None, 0.5, 4, 20, 45])
def test_startup_probe_outlasts_a_cold_load_and_the_deadline_outlasts_the_probe(make_config, size_gb):
    deploy = {"model-size-gb": size_gb} if size_gb else {}
    service = only_service(rendered(make_config, deploy))
    probe = container_of(service)["startupProbe"]
    budget = probe["failureThreshold"] * probe["periodSeconds"]
    size = size_gb or 1
    cold_load_seconds = size * 60 + 30  # 1 GB/min download plus start-up
    assert budget > cold_load_seconds and budget <= probes.MAX_STARTUP_SECONDS
    assert probe["httpGet"] == {"path": "/v2/health/ready", "port": 8080}
    deadline = service["spec"]["template"]["metadata"]["annotations"]["serving.knative.dev/progress-deadline"]
    assert int(deadline.rstrip("s")) > budget


def test_a_huge_model_is_capped_and_flagged(make_config):
    result = rendered(make_config, {"model-size-gb": 200})
    assert result.startup.capped and result.startup.budget_seconds == probes.MAX_STARTUP_SECONDS


@pytest.mark.parametrize("cache, volume", [
    ({}, {"name": "model-cache", "emptyDir": {}}),
    ({"volume": "emptyDir", "size-limit": "30Gi"}, {"name": "model-cache", "emptyDir": {"sizeLimit": "30Gi"}}),
    ({"volume": "pvc", "claim": "models"}, {"name": "model-cache", "persistentVolumeClaim": {"claimName": "models", "readOnly": False}}),
    ({"volume": "pvc", "claim": "models", "read-only": True, "mount": "/models"},
     {"name": "model-cache", "persistentVolumeClaim": {"claimName": "models", "readOnly": True}}),
    ({"volume": "hostPath", "path": "/mnt/kfunc"}, {"name": "model-cache", "hostPath": {"path": "/mnt/kfunc", "type": "DirectoryOrCreate"}}),
])
def test_cache_volume_is_mounted_and_announced(make_config, cache, volume):
    service = only_service(rendered(make_config, {"cache": cache}))
    assert service["spec"]["template"]["spec"]["volumes"] == [volume]
    mount = container_of(service)["volumeMounts"][0]
    assert mount["name"] == "model-cache" and env_of(service)["KFUNC_CACHE_DIR"] == mount["mountPath"]
    assert mount.get("readOnly", False) is bool(cache.get("read-only"))


def test_secret_is_referenced_never_inlined(make_config):
    service = only_service(rendered(make_config, {"secret": "s3-credentials", "env": {"LOG_LEVEL": "debug"}}))
    assert container_of(service)["envFrom"] == [{"secretRef": {"name": "s3-credentials"}}]
    assert "AWS" not in to_yaml([service])


def test_split_wires_transformer_to_a_cluster_local_predictor(make_config):
    result = rendered(make_config, {"split": True, "namespace": "ml", "gpu": {"count": 1}, "secret": "s3",
                                    "node-selector": {"gpu": "yes"}, "model-size-gb": 10})
    predictor, transformer = result.services
    assert predictor["metadata"]["name"] == "mlp-predictor" and transformer["metadata"]["name"] == "mlp-transformer"
    assert env_of(transformer) == {"KFUNC_ROLE": "transformer", "KFUNC_PREDICTOR_HOST": "mlp-predictor.ml.svc.cluster.local"}
    assert env_of(predictor)["KFUNC_ROLE"] == "predictor" and env_of(predictor)["KFUNC_MODEL_URI"] == "s3://models/mlp"
    assert predictor["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"
    assert "networking.knative.dev/visibility" not in transformer["metadata"]["labels"]
    transformer_spec = transformer["spec"]["template"]["spec"]
    assert "nodeSelector" not in transformer_spec and "volumes" not in transformer_spec
    assert "resources" not in container_of(transformer) and "envFrom" not in container_of(transformer)
    assert container_of(predictor)["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container_of(predictor)["startupProbe"]["failureThreshold"] > container_of(transformer)["startupProbe"]["failureThreshold"]


def test_cluster_local_visibility_label(make_config):
    service = only_service(rendered(make_config, {"visibility": "cluster-local"}))
    assert service["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"


@pytest.mark.parametrize("split, subscriber", [(False, "mlp"), (True, "mlp-transformer")])
def test_trigger_subscribes_the_entry_service(make_config, split, subscriber):
    result = rendered(make_config, {"split": split, "trigger": {"broker": "events", "filters": {"type": "org.example.image", "source": "/cam"}}})
    trigger = result.objects[-1]
    assert (trigger["apiVersion"], trigger["kind"]) == ("eventing.knative.dev/v1", "Trigger")
    assert trigger["spec"] == {
        "broker": "events",
        "filter": {"attributes": {"source": "/cam", "type": "org.example.image"}},
        "subscriber": {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": subscriber}},
    }
    assert validate_objects([trigger], None).problems == []


def test_trigger_without_filters_takes_every_event(make_config):
    trigger = rendered(make_config, {"trigger": {}}).objects[-1]
    assert trigger["spec"]["broker"] == "default" and "filter" not in trigger["spec"]


def test_yaml_is_deterministic_and_round_trips(make_config):
    deploy = {"split": True, "trigger": {"filters": {"type": "t"}}, "env": {"B": "2", "A": "1"}, "node-selector": {"z": "1", "a": "2"}}
    first, second = to_yaml(rendered(make_config, deploy).objects), to_yaml(rendered(make_config, deploy).objects)
    assert first == second
    assert list(yaml.safe_load_all(first)) == rendered(make_config, deploy).objects
    assert first.startswith("---\napiVersion: serving.knative.dev/v1\n")


@pytest.mark.parametrize("deploy", [
    {},
    {"gpu": {"count": 1}, "node-selector": {"a": "b"}, "tolerations": [{"key": "k", "operator": "Exists"}], "runtime-class": "nvidia",
     "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"cpu": 4, "memory": "8Gi"}}},
    {"split": True, "secret": "s3", "env": {"X": "1"}, "visibility": "cluster-local"},
    {"cache": {"volume": "pvc", "claim": "models"}},
    {"cache": {"volume": "pvc", "claim": "models", "read-only": True}},
    {"cache": {"volume": "hostPath", "path": "/mnt/models"}},
    {"cache": {"volume": "emptyDir", "size-limit": "10Gi"}, "scale": {"min": 1, "max": 3, "window": "1m", "retention": "10s"}},
    {"trigger": {"filters": {"type": "x"}}, "model-size-gb": 30},
])
def test_every_variant_passes_the_real_crd_schemas_and_webhook_rules(make_config, schemas, deploy):
    report = validate_objects(rendered(make_config, deploy).objects, schemas)
    assert report.problems == []
    assert all("Trigger/" in item for item in report.unchecked)
