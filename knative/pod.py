"""The one pod spec of every mode (Knative revision, raw/keda Deployment): container, env, resources, probes, cache.

The payload logger's env and Secret (``logger:``, knative/logging_wiring.py) go to every container.

``role`` is None for a single Service, or "predictor"/"transformer" with ``--split``. Placement
(GPU, node selector, tolerations, runtime class) and the model cache belong to the container
that loads the model, so a transformer gets none of them (nor the model store Secret).
"""
from __future__ import annotations

import math

from functions.concurrency import CPUS_ENV, Plan, plan
from functions.config import FunctionConfig, memory_limit_for

from . import logging_wiring, probes
from .mode_settings import port_protocol
from .settings import DEFAULT_NAMESPACE, DeploySettings

CONTAINER_NAME = "function"
CACHE_VOLUME_NAME = "model-cache"
PREDICTOR, TRANSFORMER = "predictor", "transformer"


def revision_spec(config: FunctionConfig, settings: DeploySettings, plan: probes.StartupPlan,
                  role: str | None = None, predictor_host: str | None = None) -> dict:
    """``spec.template.spec`` of a Knative Service: the pod spec plus Knative's request limits."""
    return {
        "containerConcurrency": _container_concurrency(config, settings),
        "timeoutSeconds": settings.timeout or config.runtime.timeout,
        **pod_spec(config, settings, plan, role, predictor_host),
    }


def pod_spec(config: FunctionConfig, settings: DeploySettings, plan: probes.StartupPlan,
             role: str | None = None, predictor_host: str | None = None) -> dict:
    """The pod spec every mode runs (a Knative revision, or a Deployment's template in raw/keda).

    The container's one port is named after ``deploy.protocol`` (``http1`` or ``h2c``). Under
    Knative the queue-proxy runs the readiness probe (no port); otherwise the kubelet does.
    """
    loads_model = role != TRANSFORMER
    container = {
        "name": CONTAINER_NAME,
        "image": settings.image,
        "ports": [{"name": port_protocol(settings), "containerPort": probes.PORT}],
        "env": _env(config, settings, role, predictor_host),
    }
    env_from = [{"secretRef": {"name": settings.secret}}] if settings.secret and loads_model else []
    env_from += logging_wiring.secret_env(config)
    if env_from:
        container["envFrom"] = env_from
    resources = _resources(config, settings) if loads_model else {}
    if resources:
        container["resources"] = resources
    if loads_model:
        container["volumeMounts"] = [cache_mount(settings)]
    container["startupProbe"] = probes.startup_probe(plan)
    container["readinessProbe"] = probes.readiness_probe(None if settings.mode == "knative" else probes.PORT)
    container["livenessProbe"] = probes.liveness_probe()
    container["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    spec: dict = {"containers": [container]}
    if loads_model:
        spec.update(_placement(settings))
        spec["volumes"] = [cache_volume(settings)]
    return spec


def _container_concurrency(config: FunctionConfig, settings: DeploySettings) -> int:
    """What the server can run at once (gunicorn workers x threads) unless set explicitly."""
    if settings.concurrency is not None:
        return settings.concurrency
    return serving_plan(config, settings).concurrency


def serving_plan(config: FunctionConfig, settings: DeploySettings) -> Plan:
    """The workers and threads the container will run, for the pod's cores and GPUs (the
    container is told the cores with ``KFUNC_CPUS`` when its plan depends on them)."""
    return plan(config.runtime, cpus=pod_cpus(settings), gpus=settings.gpu.count if settings.gpu else 0,
                batch=config.runtime.batching(None))


def pod_cpus(settings: DeploySettings) -> int:
    """Whole cores of the pod's CPU limit, else its request, else 1."""
    amount = settings.resources.limits.cpu or settings.resources.requests.cpu
    if not amount:
        return 1
    try:
        cores = float(amount[:-1]) / 1000 if amount.endswith("m") else float(amount)
    except ValueError:  # a quantity with another suffix: not a CPU amount anyone writes
        return 1
    return max(1, math.ceil(cores))


def _env(config: FunctionConfig, settings: DeploySettings, role: str | None, predictor_host: str | None) -> list[dict]:
    env = []
    if role:
        env.append({"name": "KFUNC_ROLE", "value": role})
    if predictor_host:
        env.append({"name": "KFUNC_PREDICTOR_HOST", "value": predictor_host})
    if config.runtime.workers is None or config.runtime.threads is None:
        env.append({"name": CPUS_ENV, "value": str(pod_cpus(settings))})
    if role != TRANSFORMER:
        if config.model.uri:
            env.append({"name": "KFUNC_MODEL_URI", "value": config.model.uri})
        env.append({"name": "KFUNC_CACHE_DIR", "value": settings.cache.mount})
    env.extend(logging_wiring.container_env(config, settings.namespace or DEFAULT_NAMESPACE))
    env.extend({"name": name, "value": settings.env[name]} for name in sorted(settings.env))
    return env


def _resources(config: FunctionConfig, settings: DeploySettings) -> dict:
    """``deploy.resources`` (and the GPU); a pod with ``runtime.memory-budget`` and no memory set gets
    a request and limit of the budget plus the runtime's margin (``functions.config.memory_limit_for``)."""
    resources: dict = {}
    for kind in ("requests", "limits"):
        amounts = getattr(settings.resources, kind)
        chosen = {name: value for name, value in (("cpu", amounts.cpu), ("memory", amounts.memory)) if value}
        if chosen:
            resources[kind] = chosen
    if config.runtime.memory_budget and not (settings.resources.limits.memory or settings.resources.requests.memory):
        memory = memory_limit_for(config.runtime.memory_budget)
        for kind in ("requests", "limits"):
            resources.setdefault(kind, {})["memory"] = memory
    if settings.gpu:
        resources.setdefault("limits", {})[settings.gpu.resource_name] = settings.gpu.count
    return resources


def _placement(settings: DeploySettings) -> dict:
    placement: dict = {}
    if settings.node_selector:
        placement["nodeSelector"] = dict(sorted(settings.node_selector.items()))
    if settings.tolerations:
        placement["tolerations"] = [dict(item) for item in settings.tolerations]
    if settings.runtime_class:
        placement["runtimeClassName"] = settings.runtime_class
    return placement


def cache_mount(settings: DeploySettings) -> dict:
    """The container's mount of the model cache volume (``deploy.cache.mount``)."""
    mount = {"name": CACHE_VOLUME_NAME, "mountPath": settings.cache.mount}
    if settings.cache.read_only:
        mount["readOnly"] = True
    return mount


def cache_volume(settings: DeploySettings) -> dict:
    """The model cache volume: the ``deploy.cache`` PVC, hostPath or emptyDir."""
    cache = settings.cache
    if cache.volume == "pvc":
        source = {"persistentVolumeClaim": {"claimName": cache.claim, "readOnly": cache.read_only}}
    elif cache.volume == "hostPath":
        source = {"hostPath": {"path": cache.path, "type": "DirectoryOrCreate"}}
    else:
        source = {"emptyDir": {"sizeLimit": cache.size_limit} if cache.size_limit else {}}
    return {"name": CACHE_VOLUME_NAME, **source}
