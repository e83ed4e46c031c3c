"""Mode raw (KServe's RawDeployment): a Deployment, a ClusterIP Service and a HorizontalPodAutoscaler.

The pods are the Knative path's (knative/pod.py builds both). The Deployment leaves ``replicas``
to its autoscaler, so a re-apply never resets the scale, and rolls with no pod down until its
successor is ready (a model load can take minutes). No Knative and no scale to zero: the HPA keeps
``deploy.scale.min`` (at least 1) pods and scales on CPU utilisation or a named Pods metric.
"""
from __future__ import annotations

from functions.config import FunctionConfig

from . import probes
from .manifests import DEFAULT_NAMESPACE, labels, trigger
from .mode_settings import HpaSettings, max_replicas, min_replicas, port_protocol
from .pod import pod_spec
from .settings import DeploySettings

APPS_API = "apps/v1"
AUTOSCALING_API = "autoscaling/v2"
MODE_LABEL = "kfunc.dev/deploy-mode"  # marks the Deployment, Service and scaler of modes raw and keda
INSTANCE_LABEL = "app.kubernetes.io/instance"  # selects the function's pods (and nothing else)
SERVICE_PORT = 80
APP_PROTOCOLS = {"http1": "http", "h2c": "kubernetes.io/h2c"}


def workload_labels(config: FunctionConfig, settings: DeploySettings) -> dict[str, str]:
    """kfunc's labels plus the mode, on every object of modes raw and keda."""
    return {**labels(config, None), MODE_LABEL: settings.mode}


def _metadata(config: FunctionConfig, settings: DeploySettings) -> dict:
    """A fresh ``metadata`` per object (shared dicts would come out of YAML as anchors)."""
    return {"name": config.name, "namespace": settings.namespace or DEFAULT_NAMESPACE,
            "labels": workload_labels(config, settings)}


def deployment_and_service(config: FunctionConfig, settings: DeploySettings, plan: probes.StartupPlan) -> list[dict]:
    """The Deployment running the function's pods and the Service in front of them (both modes raw and keda)."""
    selector = {INSTANCE_LABEL: config.name}
    deployment = {
        "apiVersion": APPS_API,
        "kind": "Deployment",
        "metadata": _metadata(config, settings),
        "spec": {
            "selector": {"matchLabels": selector},
            "progressDeadlineSeconds": plan.deadline_seconds,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": {**labels(config, None), **selector}},
                "spec": pod_spec(config, settings, plan),
            },
        },
    }
    protocol = port_protocol(settings)
    port = {"name": protocol, "port": SERVICE_PORT, "targetPort": protocol, "protocol": "TCP",
            "appProtocol": APP_PROTOCOLS[protocol]}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(config, settings),
        "spec": {"type": "ClusterIP", "selector": selector, "ports": [port]},
    }
    return [deployment, service]


def render_raw(config: FunctionConfig, settings: DeploySettings, plan: probes.StartupPlan) -> list[dict]:
    """Deployment, Service, HorizontalPodAutoscaler, and the Trigger when ``deploy.trigger`` is set."""
    objects = [*deployment_and_service(config, settings, plan), _hpa(config, settings)]
    if settings.trigger:
        objects.append(trigger(config, settings, objects[0]["metadata"]["namespace"], config.name, subscriber_api="v1"))
    return objects


def _hpa(config: FunctionConfig, settings: DeploySettings) -> dict:
    hpa = settings.hpa or HpaSettings()
    if hpa.pods_metric:
        metric = {"type": "Pods", "pods": {"metric": {"name": hpa.pods_metric},
                                           "target": {"type": "AverageValue", "averageValue": hpa.target}}}
    else:
        metric = {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                             "averageUtilization": hpa.cpu}}}
    return {
        "apiVersion": AUTOSCALING_API,
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(config, settings),
        "spec": {
            "scaleTargetRef": {"apiVersion": APPS_API, "kind": "Deployment", "name": config.name},
            "minReplicas": min_replicas(settings),
            "maxReplicas": max_replicas(settings),
            "metrics": [metric],
        },
    }
