"""The ``deploy:`` section: defaults, hyphenated keys, and errors that name the field and the fix."""
from __future__ import annotations

import pytest

from functions.errors import ConfigError
from knative.settings import DEFAULT_CACHE_MOUNT, load_deploy_settings


def test_defaults_scale_to_zero_with_an_emptydir_cache(make_config):
    settings = load_deploy_settings(make_config())
    assert settings.scale.min == 0
    assert settings.cache.volume == "emptyDir" and settings.cache.mount == DEFAULT_CACHE_MOUNT
    assert settings.gpu is None and settings.split is False and settings.visibility == "external"
    assert settings.cache.warm is None  # no warm-up unless asked (--warm-cache or deploy.cache.warm)


def test_hyphenated_yaml_keys_fill_their_fields(make_config):
    settings = load_deploy_settings(make_config({
        "scale": {"scale-down-delay": "5m", "retention": "30s", "window": "2m"},
        "node-selector": {"gpu": "a100"}, "runtime-class": "nvidia", "model-size-gb": 12,
        "cache": {"volume": "emptyDir", "size-limit": "20Gi", "warm": "job"}, "gpu": {"count": 2, "vendor": "amd"},
    }))
    assert settings.scale.scale_down_delay == "5m" and settings.node_selector == {"gpu": "a100"}
    assert settings.runtime_class == "nvidia" and settings.model_size_gb == 12.0
    assert settings.cache.size_limit == "20Gi" and settings.cache.warm == "job"
    assert settings.gpu.resource_name == "amd.com/gpu"


@pytest.mark.parametrize("deploy, field, hint", [
    ({"scael": {}}, "deploy.scael", "did you mean 'scale'"),
    ({"scale": {"metric": "cpu"}}, "deploy.scale.metric", "'concurrency', 'rps'"),
    ({"scale": {"window": "2s"}}, "deploy.scale.window", "6s to 1h"),
    ({"scale": {"scale-down-delay": "5 minutes"}}, "deploy.scale.scale-down-delay", "like 30s, 5m or 1h"),
    ({"scale": {"utilization": 150}}, "deploy.scale.utilization", "1 to 100"),
    ({"scale": {"initial": -1}}, "deploy.scale.initial", "0 or more"),
    ({"scale": {"min": 3, "max": 2}}, "deploy.scale.max", "less than deploy.scale.min"),
    ({"concurrency": -1}, "deploy.concurrency", "0 or more"),
    ({"timeout": 0}, "deploy.timeout", "greater than 0"),
    ({"resources": {"limits": {"memory": "4 GB"}}}, "deploy.resources.limits.memory", "512Mi"),
    ({"gpu": {"vendor": "tpu"}}, "deploy.gpu.vendor", "'nvidia', 'amd', 'intel'"),
    ({"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]}, "deploy.tolerations", "value must be empty"),
    ({"tolerations": [{"key": "k", "efect": "NoSchedule"}]}, "deploy.tolerations", "unknown field 'efect'"),
    ({"cache": {"volume": "pvc"}}, "deploy.cache.claim", "name the PersistentVolumeClaim"),
    ({"cache": {"volume": "hostPath"}}, "deploy.cache.path", "directory on the node"),
    ({"cache": {"volume": "emptyDir", "claim": "models"}}, "deploy.cache.claim", "only applies to volume pvc"),
    ({"cache": {"mount": "/dev"}}, "deploy.cache.mount", "reserved by Knative"),
    ({"cache": {"volume": "nfs"}}, "deploy.cache.volume", "'emptyDir', 'pvc', 'hostPath'"),
    ({"cache": {"warm": "cronjob"}}, "deploy.cache.warm", "'job', 'daemonset'"),
    ({"env": {"AWS_SECRET_ACCESS_KEY": "abc"}}, "deploy.env", "put it in a Secret and set deploy.secret"),
    ({"env": {"PORT": "9000"}}, "deploy.env", "Knative sets it"),
    ({"secret": "My_Secret"}, "deploy.secret", "DNS-1123"),
    ({"visibility": "internal"}, "deploy.visibility", "'external', 'cluster-local'"),
    ({"trigger": {"filters": {"Type": "x"}}}, "deploy.trigger.filters", "CloudEvents attribute name"),
])
def test_bad_settings_name_the_field_and_the_fix(make_config, deploy, field, hint):
    with pytest.raises(ConfigError) as caught:
        load_deploy_settings(make_config(deploy))
    message = str(caught.value)
    assert message.startswith(f"{field}") and hint in message


def test_split_refuses_names_too_long_for_the_transformer_service(make_config):
    config = make_config({"split": True}, name="m" + "x" * 55)
    with pytest.raises(ConfigError, match=r"^name: .*over 63 characters"):
        load_deploy_settings(config)
