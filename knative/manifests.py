"""Render a function as Knative objects: one Service, or a transformer + predictor pair, plus a Trigger.

Output is deterministic (same config, same YAML), so ``kfunc deploy --dry-run -o yaml`` can be
committed by GitOps users and diffed in review.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import yaml

from functions.config import FunctionConfig

from . import autoscaling as scaling
from . import probes
from .pod import PREDICTOR, TRANSFORMER, revision_spec
from .serving_rules import PROGRESS_DEADLINE, VISIBILITY_LABEL
from .settings import DEFAULT_NAMESPACE, REVISION_HASH_CHARS, DeploySettings

SERVING_API = "serving.knative.dev/v1"
EVENTING_API = "eventing.knative.dev/v1"
NAME_LABEL = "app.kubernetes.io/name"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
COMPONENT_LABEL = "app.kubernetes.io/component"
CACHE_WARM_COMPONENT = "cache-warm"  # the component label of the cache warm-up Job / DaemonSet


@dataclass(frozen=True)
class Rendered:
    """The objects to apply, in order, and the startup plan they were sized with."""

    objects: list[dict]
    startup: probes.StartupPlan
    namespace: str
    mode: str = "knative"

    @property
    def services(self) -> list[dict]:
        """The Knative Services (none in modes raw and keda)."""
        return [o for o in self.objects if (o["apiVersion"], o["kind"]) == (SERVING_API, "Service")]

    @property
    def workloads(self) -> list[dict]:
        """What ``kfunc deploy`` waits for: the Knative Services, or the Deployments of modes raw and keda."""
        return self.services or [o for o in self.objects if (o["apiVersion"], o["kind"]) == ("apps/v1", "Deployment")]

    @property
    def warm_ups(self) -> list[dict]:
        """The cache warm-up Job or DaemonSet (``--warm-cache``), applied and waited for before the Services."""
        return [o for o in self.objects if o["metadata"].get("labels", {}).get(COMPONENT_LABEL) == CACHE_WARM_COMPONENT]


def render(config: FunctionConfig, settings: DeploySettings) -> Rendered:
    """The function's Knative objects: Services first (predictor before transformer), then the Trigger.

    ``kfunc deploy`` puts the cache warm-up (knative/cache_warm.py), if any, before them.

    The model size sizes the startup of the Service that loads the model; a transformer loads none.
    """
    namespace = settings.namespace or DEFAULT_NAMESPACE
    plan = probes.plan_startup(settings.model_size_gb)
    if settings.split:
        predictor_name = f"{config.name}-{PREDICTOR}"
        host = f"{predictor_name}.{namespace}.svc.cluster.local"
        objects = [
            _service(config, settings, plan, namespace, predictor_name, PREDICTOR, cluster_local=True),
            _service(config, settings, probes.plan_startup(None), namespace, f"{config.name}-{TRANSFORMER}",
                     TRANSFORMER, cluster_local=settings.visibility == "cluster-local", predictor_host=host),
        ]
    else:
        objects = [_service(config, settings, plan, namespace, config.name, None,
                            cluster_local=settings.visibility == "cluster-local")]
    if settings.trigger:
        objects.append(trigger(config, settings, namespace, entry=objects[-1]["metadata"]["name"]))
    return Rendered(objects, plan, namespace)


def to_yaml(objects: list[dict]) -> str:
    """A multi-document YAML stream, keys in the order rendered."""
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False, explicit_start=True)


def labels(config: FunctionConfig, role: str | None) -> dict[str, str]:
    """kfunc's labels on every object of the function (``role`` with --split)."""
    labels = {NAME_LABEL: config.name, MANAGED_BY_LABEL: "kfunc"}
    if config.version:
        labels["app.kubernetes.io/version"] = config.version
    if role:
        labels[COMPONENT_LABEL] = role
    return labels


def _service(config: FunctionConfig, settings: DeploySettings, plan: probes.StartupPlan, namespace: str,
             name: str, role: str | None, cluster_local: bool, predictor_host: str | None = None) -> dict:
    service_labels = labels(config, role)
    if cluster_local:
        service_labels[VISIBILITY_LABEL] = "cluster-local"
    template = {
        "metadata": {"labels": labels(config, role), "annotations": _template_annotations(settings, plan)},
        "spec": revision_spec(config, settings, plan, role, predictor_host),
    }
    if settings.model_affinity:
        template["metadata"] = {"name": revision_name(name, template), **template["metadata"]}
    return {
        "apiVersion": SERVING_API,
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": service_labels},
        "spec": {"template": template},
    }


def revision_name(service: str, template: dict) -> str:
    """``<service>-<hash of the template>``: a revision name known before Knative creates it (the
    model-affinity DestinationRule names its host), new whenever the template changes, as Knative
    requires of a named revision."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:REVISION_HASH_CHARS]
    return f"{service}-{digest}"


def _template_annotations(settings: DeploySettings, plan: probes.StartupPlan) -> dict[str, str]:
    scale = settings.scale
    chosen = [
        (scaling.MIN_SCALE, scale.min), (scaling.MAX_SCALE, scale.max), (scaling.INITIAL_SCALE, scale.initial),
        (scaling.METRIC, scale.metric), (scaling.TARGET, scale.target), (scaling.UTILIZATION, scale.utilization),
        (scaling.WINDOW, scale.window), (scaling.SCALE_DOWN_DELAY, scale.scale_down_delay),
        (scaling.RETENTION, scale.retention),
    ]
    annotations = {key: _annotation_value(value) for key, value in chosen if value is not None}
    annotations[PROGRESS_DEADLINE] = f"{plan.deadline_seconds}s"
    if settings.model_affinity:  # the activator balances on its own: keep it out of the path once pods run
        annotations[scaling.BURST_CAPACITY] = "0"
    return annotations


def _annotation_value(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def trigger(config: FunctionConfig, settings: DeploySettings, namespace: str, entry: str,
            subscriber_api: str = SERVING_API) -> dict:
    """The Eventing Trigger sending the broker's matching events to Service ``entry`` (of ``subscriber_api``)."""
    trigger = settings.trigger
    spec: dict = {"broker": trigger.broker}
    if trigger.filters:
        spec["filter"] = {"attributes": dict(sorted(trigger.filters.items()))}
    spec["subscriber"] = {"ref": {"apiVersion": subscriber_api, "kind": "Service", "name": entry}}
    return {
        "apiVersion": EVENTING_API,
        "kind": "Trigger",
        "metadata": {"name": f"{config.name}-trigger", "namespace": namespace, "labels": labels(config, None)},
        "spec": spec,
    }
