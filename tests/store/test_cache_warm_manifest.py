"""The Job / DaemonSet that warms a function's model cache before traffic (knative/cache_warm.py)."""
from __future__ import annotations

import json
import re

import pytest
from kubernetes.client import ApiClient

from functions.config import FunctionConfig
from functions.errors import ConfigError
from functions.schema import parse
from knative.cache_warm import render_cache_warm
from knative.manifests import render
from knative.settings import load_deploy_settings

PVC = {"volume": "pvc", "claim": "model-cache", "read-only": True}
HOST_PATH = {"volume": "hostPath", "path": "/mnt/kfunc-cache"}


def warm(mode: str, deploy: dict, uri: str | None = "s3://models/bert/", name: str = "bert") -> dict:
    data = {"name": name, "model": {"uri": uri} if uri else {},
            "deploy": {"image": "registry.local/bert:1", "namespace": "ml", **deploy}}
    config = parse(FunctionConfig, data, "")
    return render_cache_warm(config, load_deploy_settings(config), mode)


def pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def kubernetes_round_trip(obj: dict) -> dict:
    """The object as the official client's models read and write it: a misspelt field is dropped."""
    client = ApiClient()
    model_type = {"Job": "V1Job", "DaemonSet": "V1DaemonSet"}[obj["kind"]]
    return client.sanitize_for_serialization(client.deserialize(json.dumps(obj), model_type, "application/json"))


def test_job_warms_the_shared_pvc_with_the_functions_image_settings_and_credentials():
    job = warm("job", {"cache": PVC, "secret": "s3-credentials", "env": {"AWS_ENDPOINT_URL": "http://minio:9000"}})

    assert (job["apiVersion"], job["kind"], job["metadata"]["namespace"]) == ("batch/v1", "Job", "ml")
    assert kubernetes_round_trip(job) == job
    spec = pod_spec(job)
    (container,) = spec["containers"]
    assert container["image"] == "registry.local/bert:1"
    assert container["command"] == ["kfunc", "cache", "warm", "s3://models/bert/", "--cache-dir", "/var/cache/kfunc",
                                    "--function-dir", "/func"]
    assert container["envFrom"] == [{"secretRef": {"name": "s3-credentials"}}]
    assert container["env"] == [{"name": "AWS_ENDPOINT_URL", "value": "http://minio:9000"}]
    assert "limits" not in container["resources"]  # no GPU for a download
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"  # kfunc deploy shows why it failed
    # The Service mounts this cache read-only; the warm-up must write it.
    assert spec["volumes"] == [{"name": "model-cache", "persistentVolumeClaim": {"claimName": "model-cache",
                                                                                 "readOnly": False}}]
    assert container["volumeMounts"] == [{"name": "model-cache", "mountPath": "/var/cache/kfunc"}]
    assert spec["restartPolicy"] == "Never" and "nodeSelector" not in spec


def test_job_name_is_stable_and_changes_with_the_model():
    first = warm("job", {"cache": PVC})["metadata"]["name"]
    assert warm("job", {"cache": PVC})["metadata"]["name"] == first
    assert warm("job", {"cache": PVC}, uri="s3://models/bert-v2/")["metadata"]["name"] != first
    assert first.startswith("bert-warm-")
    long_name = warm("job", {"cache": PVC}, name="a" * 63)["metadata"]["name"]
    assert len(long_name) == 63


def test_daemonset_warms_each_nvidia_gpu_node_without_taking_a_gpu():
    daemonset = warm("daemonset", {"cache": HOST_PATH, "gpu": {"count": 1}})

    assert (daemonset["apiVersion"], daemonset["kind"]) == ("apps/v1", "DaemonSet")
    assert daemonset["metadata"]["name"] == "bert-cache-warm"
    assert kubernetes_round_trip(daemonset) == daemonset
    spec = pod_spec(daemonset)
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    chown, warm_up = spec["initContainers"]
    assert chown["command"] == ["chown", "1000:1000", "/var/cache/kfunc"]
    assert chown["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN"]}
    assert warm_up["command"][:4] == ["kfunc", "cache", "warm", "s3://models/bert/"]
    assert warm_up["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    (sleeper,) = spec["containers"]
    assert sleeper["image"] == "registry.local/bert:1"  # the image stays pulled on the node
    assert spec["volumes"] == [{"name": "model-cache", "hostPath": {"path": "/mnt/kfunc-cache",
                                                                    "type": "DirectoryOrCreate"}}]
    assert all("nvidia.com/gpu" not in str(c.get("resources")) for c in [chown, warm_up, sleeper])
    labels = daemonset["spec"]["template"]["metadata"]["labels"]
    assert daemonset["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_daemonset_follows_the_functions_own_placement():
    daemonset = warm("daemonset", {"cache": HOST_PATH, "gpu": {"count": 1},
                                   "node-selector": {"pool": "a100"},
                                   "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]})
    spec = pod_spec(daemonset)
    assert spec["nodeSelector"] == {"pool": "a100"}
    assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists"}]
    cpu_only = pod_spec(warm("daemonset", {"cache": HOST_PATH}))
    assert "nodeSelector" not in cpu_only and "tolerations" not in cpu_only


def test_warm_objects_use_the_same_cache_volume_as_the_service():
    data = {"name": "bert", "model": {"uri": "s3://models/bert/"},
            "deploy": {"image": "registry.local/bert:1", "cache": HOST_PATH}}
    config = parse(FunctionConfig, data, "")
    settings = load_deploy_settings(config)
    (service,) = render(config, settings).services
    service_spec = service["spec"]["template"]["spec"]
    warm_spec = pod_spec(render_cache_warm(config, settings, "daemonset"))
    assert warm_spec["volumes"] == service_spec["volumes"]
    assert warm_spec["initContainers"][1]["volumeMounts"] == service_spec["containers"][0]["volumeMounts"]


@pytest.mark.parametrize("mode, deploy, uri, message", [
    ("job", {"cache": HOST_PATH}, "s3://m/b/", "deploy.cache.warm (--warm-cache) job: a Job warms one node, "
                                                "but a hostPath cache is per node; use daemonset"),
    ("daemonset", {"cache": PVC}, "s3://m/b/", "deploy.cache.warm (--warm-cache) daemonset: a pvc cache is one "
                                               "shared volume, which one Job warms; use job"),
    ("job", {}, "s3://m/b/", "deploy.cache.volume: an emptyDir cache lives and dies with its pod"),
    ("job", {"cache": PVC}, "/srv/models/bert", "model.uri: '/srv/models/bert' is not an s3:// or http(s):// URI"),
    ("job", {"cache": PVC}, None, "model.uri: required to warm the cache"),
    ("daemonset", {"cache": HOST_PATH, "gpu": {"vendor": "amd"}}, "s3://m/b/", "deploy.node-selector: set it"),
    ("cronjob", {"cache": PVC}, "s3://m/b/", "deploy.cache.warm (--warm-cache): 'cronjob' is not a choice"),
])
def test_a_cache_that_cannot_be_warmed_so_says_and_names_the_fix(mode, deploy, uri, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        warm(mode, deploy, uri=uri)


def test_an_image_is_required():
    config = parse(FunctionConfig, {"name": "bert", "model": {"uri": "s3://m/b/"}, "deploy": {"cache": PVC}}, "")
    with pytest.raises(ConfigError, match="deploy.image: required to warm the cache"):
        render_cache_warm(config, load_deploy_settings(config), "job")


def repository_warm(model: dict, models: list | None = None) -> dict:
    data = {"name": "zoo", "model": model, "deploy": {"image": "registry.local/zoo:1", "cache": PVC}}
    if models is not None:
        data["models"] = models
    config = parse(FunctionConfig, data, "")
    return render_cache_warm(config, load_deploy_settings(config), "job")


def test_a_multi_model_functions_warm_up_warms_all_its_models():
    for job in (repository_warm({"repository": "s3://bucket/models/"}),
                repository_warm({}, [{"name": "a", "uri": "s3://bucket/a/"}, {"name": "b", "uri": "./b"}])):
        (container,) = pod_spec(job)["containers"]
        assert container["command"] == ["kfunc", "cache", "warm", "--cache-dir", "/var/cache/kfunc",
                                        "--function-dir", "/func"]
    with pytest.raises(ConfigError, match=re.escape("model.repository: '/srv/models' is not an s3:// URI")):
        repository_warm({"repository": "/srv/models"})
    with pytest.raises(ConfigError, match=re.escape("models: no entry has an s3:// or http(s):// uri")):
        repository_warm({}, [{"name": "a", "uri": "./a"}])
