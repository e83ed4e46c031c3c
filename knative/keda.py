"""Mode keda: mode raw's Deployment and Service, scaled by KEDA instead of a HorizontalPodAutoscaler.

- Without ``deploy.keda.prometheus``: a KEDA HTTP add-on ``HTTPScaledObject``. Requests enter
  through the add-on's interceptor with a Host of ``deploy.keda.hosts`` (default the function's
  cluster-local name); it counts them, holds them while the Deployment scales up from zero, and
  forwards them to the Service. The wait is the model's startup budget, not the add-on's 20 s.
- With it: a KEDA ``ScaledObject`` with a ``prometheus`` trigger (no interceptor; at 0 replicas
  nothing answers until the query rises, so keep ``deploy.scale.min`` at 1 for request traffic).

KEDA creates and owns the HPA itself; kfunc renders none (two HPAs on one Deployment would fight).
"""
from __future__ import annotations

from functions.config import FunctionConfig

from . import probes
from .manifests import DEFAULT_NAMESPACE
from .mode_settings import KedaSettings, max_replicas, min_replicas
from .raw import APPS_API, SERVICE_PORT, deployment_and_service, workload_labels
from .settings import DeploySettings

HTTP_API = "http.keda.sh/v1alpha1"
KEDA_API = "keda.sh/v1alpha1"
INTERCEPTOR_SERVICE = "keda-add-ons-http-interceptor-proxy"
INTERCEPTOR_PORT = 8080
INTERCEPTOR_ANNOTATION = "kfunc.dev/interceptor"  # on the HTTPScaledObject: where its requests must go


def function_host(name: str, namespace: str) -> str:
    """The Host the interceptor routes to a function by default."""
    return f"{name}.{namespace}.svc.cluster.local"


def interceptor_address(interceptor_namespace: str) -> str:
    """Where requests for a keda-mode function go: the HTTP add-on's interceptor proxy."""
    return f"{INTERCEPTOR_SERVICE}.{interceptor_namespace}.svc.cluster.local:{INTERCEPTOR_PORT}"


def render_keda(config: FunctionConfig, settings: DeploySettings, plan: probes.StartupPlan) -> list[dict]:
    """Deployment, Service, and the HTTPScaledObject or (with a Prometheus query) ScaledObject."""
    keda = settings.keda or KedaSettings()
    namespace = settings.namespace or DEFAULT_NAMESPACE
    metadata = {"name": config.name, "namespace": namespace, "labels": workload_labels(config, settings)}
    target = {"apiVersion": APPS_API, "kind": "Deployment", "name": config.name}
    if keda.prometheus:
        scaler = _scaled_object(settings, keda, target)
    else:
        scaler = _http_scaled_object(config, settings, keda, plan, target, namespace)
        metadata["annotations"] = {INTERCEPTOR_ANNOTATION: interceptor_address(keda.interceptor_namespace)}
    return [*deployment_and_service(config, settings, plan), {**scaler, "metadata": metadata}]


def _http_scaled_object(config: FunctionConfig, settings: DeploySettings, keda: KedaSettings, plan: probes.StartupPlan,
                        target: dict, namespace: str) -> dict:
    spec: dict = {
        "hosts": list(keda.hosts) or [function_host(config.name, namespace)],
        "scaleTargetRef": {**target, "service": config.name, "port": SERVICE_PORT},
        "replicas": {"min": min_replicas(settings), "max": max_replicas(settings)},
        "scalingMetric": {"concurrency": {"targetValue": keda.concurrency}},
        "timeouts": {"conditionWait": f"{plan.budget_seconds}s", "responseHeader": f"{config.runtime.timeout}s"},
    }
    if keda.scaledown_period:
        spec["scaledownPeriod"] = keda.scaledown_period
    return {"apiVersion": HTTP_API, "kind": "HTTPScaledObject", "spec": spec}


def _scaled_object(settings: DeploySettings, keda: KedaSettings, target: dict) -> dict:
    prometheus = keda.prometheus
    spec: dict = {
        "scaleTargetRef": target,
        "minReplicaCount": min_replicas(settings),
        "maxReplicaCount": max_replicas(settings),
        "triggers": [{"type": "prometheus", "metadata": {"serverAddress": prometheus.server, "query": prometheus.query,
                                                         "threshold": prometheus.threshold}}],
    }
    if keda.scaledown_period:
        spec["cooldownPeriod"] = keda.scaledown_period
    return {"apiVersion": KEDA_API, "kind": "ScaledObject", "spec": spec}
