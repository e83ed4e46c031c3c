"""Warm the function's model cache before traffic: KServe's LocalModelCache without a controller.

``render_cache_warm(config, settings, mode)`` gives one object that runs ``kfunc cache warm``
in the function's own image, into the same cache volume the Service mounts:

- ``job``: a ``batch/v1`` Job for a shared ``pvc`` cache (one download serves every pod);
- ``daemonset``: an ``apps/v1`` DaemonSet for a ``hostPath`` cache, one pod per node the function
  may run on (its node selector and tolerations; for NVIDIA GPUs, the nodes GPU feature discovery
  labels ``nvidia.com/gpu.present=true``). An init container warms the node, then a sleeping
  container keeps the pod (and the image, pre-pulled) there; a changed model URI or image rolls it.

A multi-model function's warm-up warms every model of its repository (as listed when the warm-up
runs: models uploaded later are fetched by their first request) or of its ``models:`` list.

The warm pods request no GPU. An ``emptyDir`` cache lives and dies with its pod: nothing to warm.
A failed warm-up's last log lines become its termination message, so ``kfunc deploy`` can show them.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Literal

from functions.config import FunctionConfig
from functions.errors import ConfigError

from .manifests import CACHE_WARM_COMPONENT, COMPONENT_LABEL, DEFAULT_NAMESPACE, MANAGED_BY_LABEL, NAME_LABEL
from .pod import cache_mount, cache_volume
from .settings import DeploySettings

WarmMode = Literal["job", "daemonset"]
WARM_MODES: tuple[str, ...] = ("job", "daemonset")
IMAGE_FUNCTION_DIR = "/func"  # where 'kfunc build' puts the function in its image (scaffold/dockerfile.py)
IMAGE_USER_ID = 1000  # the user those images run as
GPU_NODE_LABELS = {"nvidia": {"nvidia.com/gpu.present": "true"}}
JOB_BACKOFF_LIMIT = 4
JOB_TTL_SECONDS = 86400
WARM_REQUESTS = {"cpu": "250m", "memory": "512Mi"}  # boto3 ranged downloads, hashing: no limits, it ends
SLEEP_REQUESTS = {"cpu": "1m", "memory": "32Mi"}
_SLEEP = "import signal, sys; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); signal.pause()"
REMOTE_SCHEMES = ("s3://", "https://", "http://")
DAEMONSET_SUFFIX = "-cache-warm"
_MAX_NAME = 63


def render_cache_warm(config: FunctionConfig, settings: DeploySettings, mode: WarmMode) -> dict:
    """The Job or DaemonSet that warms ``settings.cache`` with ``config.model.uri`` (a multi-model
    function: all its models); ConfigError names the fix."""
    if mode not in WARM_MODES:
        raise ConfigError(f"deploy.cache.warm (--warm-cache): {mode!r} is not a choice; "
                          "use job (pvc cache) or daemonset (hostPath cache)")
    target = _warm_args(config)
    if not settings.image:
        raise ConfigError("deploy.image: required to warm the cache (the warm-up runs in the function's image); "
                          "set it in kfunc.yaml or pass --image")
    _check_volume(settings, mode)
    namespace = settings.namespace or DEFAULT_NAMESPACE
    labels = {NAME_LABEL: config.name, MANAGED_BY_LABEL: "kfunc", COMPONENT_LABEL: CACHE_WARM_COMPONENT}
    writable = replace(settings, cache=replace(settings.cache, read_only=False))  # the warm-up writes even so
    volumes = [cache_volume(writable)]
    warm = _warm_container(settings, writable, target)
    if mode == "job":
        return _job(config, namespace, labels, warm, volumes)
    return _daemonset(config, settings, namespace, labels, warm, volumes, writable)


def _warm_args(config: FunctionConfig) -> list[str]:
    """What the warm-up's ``kfunc cache warm`` is given: the model URI; nothing for a multi-model
    function, which warms every model of its repository (listed when the warm-up runs) or of ``models:``."""
    if config.model.repository:
        if not config.model.repository.startswith(REMOTE_SCHEMES):
            raise ConfigError(f"model.repository: {config.model.repository!r} is not an s3:// URI; only remote "
                              "models are cached (a local repository is used in place), so there is nothing to warm")
        return []
    if config.models is not None:
        if not any(m.uri.startswith(REMOTE_SCHEMES) for m in config.models):
            raise ConfigError("models: no entry has an s3:// or http(s):// uri; only remote models are cached "
                              "(local ones are used in place), so there is nothing to warm")
        return []
    uri = config.model.uri
    if not uri:
        raise ConfigError("model.uri: required to warm the cache; name the model, e.g. s3://models/bert/")
    if not uri.startswith(REMOTE_SCHEMES):
        raise ConfigError(f"model.uri: {uri!r} is not an s3:// or http(s):// URI; only remote models are cached "
                          "(a local path is used in place), so there is nothing to warm")
    return [uri]


def _check_volume(settings: DeploySettings, mode: WarmMode) -> None:
    volume = settings.cache.volume
    if volume == "emptyDir":
        raise ConfigError("deploy.cache.volume: an emptyDir cache lives and dies with its pod, so nothing can warm it; "
                          "use volume pvc (warm: job) or hostPath (warm: daemonset)")
    if mode == "job" and volume != "pvc":
        raise ConfigError("deploy.cache.warm (--warm-cache) job: a Job warms one node, but a hostPath cache "
                          "is per node; use daemonset")
    if mode == "daemonset" and volume != "hostPath":
        raise ConfigError("deploy.cache.warm (--warm-cache) daemonset: a pvc cache is one shared volume, "
                          "which one Job warms; use job")


def _warm_container(settings: DeploySettings, writable: DeploySettings, target: list[str]) -> dict:
    container: dict = {
        "name": "warm",
        "image": settings.image,
        "command": ["kfunc", "cache", "warm", *target, "--cache-dir", settings.cache.mount,
                    "--function-dir", IMAGE_FUNCTION_DIR],
    }
    if settings.env:
        container["env"] = [{"name": name, "value": settings.env[name]} for name in sorted(settings.env)]
    if settings.secret:
        container["envFrom"] = [{"secretRef": {"name": settings.secret}}]
    container["resources"] = {"requests": dict(WARM_REQUESTS)}
    container["volumeMounts"] = [cache_mount(writable)]
    container["terminationMessagePolicy"] = "FallbackToLogsOnError"  # the error 'kfunc cache warm' printed
    container["securityContext"] = _restricted()
    return container


def _restricted() -> dict:
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}}


def _job(config: FunctionConfig, namespace: str, labels: dict, warm: dict, volumes: list[dict]) -> dict:
    """A Job named after a hash of its whole pod template (model URI, image, env, Secret, cache claim...):
    a Job's template is immutable, so a changed template is a new Job; ``kfunc deploy`` deletes the old
    ones once the new one has warmed the cache."""
    template = {"metadata": {"labels": labels},
                "spec": {"restartPolicy": "Never", "containers": [warm], "volumes": volumes}}
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:8]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": _name(config.name, f"-warm-{digest}"), "namespace": namespace, "labels": labels},
        "spec": {"backoffLimit": JOB_BACKOFF_LIMIT, "ttlSecondsAfterFinished": JOB_TTL_SECONDS, "template": template},
    }


def _daemonset(config: FunctionConfig, settings: DeploySettings, namespace: str, labels: dict, warm: dict,
               volumes: list[dict], writable: DeploySettings) -> dict:
    spec: dict = {
        "initContainers": [_chown_container(settings, writable), warm],
        "containers": [{"name": "sleep", "image": settings.image, "command": ["python", "-c", _SLEEP],
                        "resources": {"requests": dict(SLEEP_REQUESTS)}, "securityContext": _restricted()}],
        "volumes": volumes,
    }
    spec.update(_placement(settings))
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": _name(config.name, DAEMONSET_SUFFIX), "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {NAME_LABEL: config.name, COMPONENT_LABEL: CACHE_WARM_COMPONENT}},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }


def _name(function_name: str, suffix: str) -> str:
    """``<function><suffix>``, the function's part shortened to keep the name within 63 characters."""
    return function_name[:_MAX_NAME - len(suffix)].rstrip("-") + suffix


def _chown_container(settings: DeploySettings, writable: DeploySettings) -> dict:
    """The kubelet creates a missing hostPath directory owned by root; hand it to the image's user."""
    return {
        "name": "cache-owner",
        "image": settings.image,
        "command": ["chown", f"{IMAGE_USER_ID}:{IMAGE_USER_ID}", settings.cache.mount],
        "volumeMounts": [cache_mount(writable)],
        "securityContext": {"runAsUser": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
    }


def _placement(settings: DeploySettings) -> dict:
    """The function's node selector and tolerations; for a GPU function, its GPU nodes and their taint."""
    placement: dict = {}
    selector = dict(settings.node_selector)
    if settings.gpu and not selector:
        if settings.gpu.vendor not in GPU_NODE_LABELS:
            raise ConfigError(f"deploy.node-selector: set it to the labels of your {settings.gpu.vendor} GPU nodes, "
                              "so that only they are warmed (kfunc knows the NVIDIA label only)")
        selector = GPU_NODE_LABELS[settings.gpu.vendor]
    if selector:
        placement["nodeSelector"] = dict(sorted(selector.items()))
    tolerations = [dict(item) for item in settings.tolerations]
    if settings.gpu and not any(t.get("key") == settings.gpu.resource_name for t in tolerations):
        tolerations.append({"key": settings.gpu.resource_name, "operator": "Exists", "effect": "NoSchedule"})
    if tolerations:
        placement["tolerations"] = tolerations
    return placement
