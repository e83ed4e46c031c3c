"""The deploy pipeline: render -> validate -> preflight features -> server dry run -> apply -> wait Ready -> prune.

Nothing is applied unless every object passes the offline checks, the feature preflight and the
API server's own dry run, so a refused deploy leaves the cluster untouched. A cache warm-up
(``--warm-cache``) is applied first and must finish before the Services are applied. Once they
are Ready, what an earlier deploy of the function left and this one did not render is deleted.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from functions.config import load_config
from functions.errors import ConfigError
from istio.placement import deployed_rule

from . import features, modes
from .autoscaling import ServingLimits
from .cache_warm import WarmMode, render_cache_warm
from .cluster_schemas import cluster_schemas
from .crd_schema import CrdSchemas
from .kube import Kube, KubeError
from .inventory import function_objects, warm_up_objects
from .manifests import NAME_LABEL, Rendered
from .readiness import Progress, ServiceState
from .settings import check_combination, load_deploy_settings
from .validate import ValidationReport, validate_objects
from .warm_wait import wait_warmed

WAIT_MARGIN_SECONDS = 60


def prepare(function_dir: str | Path, namespace: str | None = None, image: str | None = None,
            split: bool | None = None, default_namespace: str = "default", warm_cache: WarmMode | None = None,
            mode: str | None = None) -> Rendered:
    """Load ``kfunc.yaml``, apply command-line overrides, and render the objects, the cache warm-up first
    and the model-affinity DestinationRule (``deploy.model-affinity``) last.

    The namespace is ``namespace`` (--namespace), else ``deploy.namespace``, else ``default_namespace``
    (the kubeconfig context's when deploying, "default" for a dry run). ``warm_cache`` (--warm-cache)
    overrides ``deploy.cache.warm``, ``mode`` (--mode) ``deploy.mode``.
    """
    config = load_config(function_dir)
    settings = load_deploy_settings(config)
    overrides = {"namespace": namespace or settings.namespace or default_namespace, "image": image, "split": split,
                 "cache": dataclasses.replace(settings.cache, warm=warm_cache) if warm_cache else None, "mode": mode}
    settings = dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v is not None})
    check_combination(config, settings)
    if not settings.image:
        raise ConfigError("deploy.image: required; set it in kfunc.yaml or pass --image (kfunc build --push prints it)")
    rendered = modes.render(config, settings)
    if settings.model_affinity:
        rule = deployed_rule(config.name, rendered.objects, rendered.namespace)
        rendered = dataclasses.replace(rendered, objects=[*rendered.objects, rule])
    if not settings.cache.warm:
        return rendered
    warm_up = render_cache_warm(config, settings, settings.cache.warm)
    return dataclasses.replace(rendered, objects=[warm_up, *rendered.objects])


def load_schemas(crds_dir: str | None, kube: Kube | None, objects: list[dict]) -> CrdSchemas | None:
    """CRD schemas from ``--crds DIR``, else the cluster's for ``objects`` (knative/cluster_schemas.py),
    else None (webhook rules only)."""
    if crds_dir:
        return CrdSchemas.from_directory(crds_dir)
    return cluster_schemas(kube, objects) if kube else None


def serving_limits(kube: Kube) -> ServingLimits:
    """The cluster's revision timeout, concurrency and initial-scale limits (Knative's defaults when
    the user may not read ``knative-serving``'s ConfigMaps: the server dry run still applies them)."""
    try:
        return ServingLimits.from_configmaps(kube.get_configmap(features.NAMESPACE, "config-defaults"),
                                             kube.get_configmap(features.NAMESPACE, "config-autoscaler"))
    except KubeError as exc:
        if exc.http_status != 403:
            raise
        return ServingLimits()


def check_offline(rendered: Rendered, schemas: CrdSchemas | None, limits: ServingLimits = ServingLimits()) -> ValidationReport:
    """CRD schema and webhook checks; raise ValidationFailed with every problem."""
    report = validate_objects(rendered.objects, schemas, limits)
    report.raise_for_problems()
    return report


def preflight(rendered: Rendered, kube: Kube) -> str | None:
    """Stop with the exact ``kubectl patch`` when a needed Knative feature flag is off (mode knative
    only); a note when this user may not read the flags (the server dry run then refuses a
    disabled feature)."""
    if rendered.mode != "knative":
        return None
    try:
        data = kube.get_configmap(features.NAMESPACE, features.CONFIGMAP)
    except KubeError as exc:
        if exc.http_status != 403:
            raise
        return (f"note: cannot read {features.NAMESPACE}/{features.CONFIGMAP} (forbidden); feature flags were not "
                "checked, the API server's dry run checks them")
    if data is None:
        raise KubeError(f"{features.NAMESPACE}/{features.CONFIGMAP} not found: is Knative Serving installed? "
                        "(scripts/cluster-up.sh sets up kind + Knative + Istio)")
    features.preflight(rendered.objects, data)
    return None


def apply_and_wait(rendered: Rendered, kube: Kube, progress: Progress, timeout_s: float | None = None) -> list[ServiceState]:
    """Server dry run of every object; apply the cache warm-up and wait until it is done; then apply the
    rest in order and wait for each Service (or raw/keda Deployment) to be ready. All the waiting shares one
    time limit."""
    for obj in rendered.objects:
        kube.apply(obj, dry_run=True)
    deadline = time.monotonic() + (timeout_s or rendered.startup.deadline_seconds + WAIT_MARGIN_SECONDS)
    warm_ups = rendered.warm_ups
    for obj in warm_ups:
        _apply(kube, obj, progress)
        wait_warmed(kube, obj, _left(deadline), progress)
    for obj in rendered.objects:
        if obj not in warm_ups:
            _apply(kube, obj, progress)
    states = [modes.wait_for(kube, rendered, workload, _left(deadline), progress) for workload in rendered.workloads]
    _delete_stale(kube, rendered, progress)
    return states


def _delete_stale(kube: Kube, rendered: Rendered, progress: Progress) -> None:
    """Once the new objects are Ready, delete what an earlier deploy of the function left that this one did
    not render: the single Service after a switch to split (or the pair after the switch back), a
    Trigger no longer asked for, warm-up Jobs of an older pod template."""
    names = {(o["kind"], o["metadata"]["name"]) for o in rendered.objects}
    function = next(o["metadata"]["labels"][NAME_LABEL] for o in rendered.objects  # kfunc.yaml's name
                    if NAME_LABEL in o["metadata"].get("labels", {}))
    live = [*function_objects(kube, rendered.namespace, function, labeled_only=True),
            *(warm_up_objects(kube, rendered.namespace, function) if rendered.warm_ups else [])]
    for obj in live:
        if (obj["kind"], obj["metadata"]["name"]) not in names and \
                kube.delete(obj["apiVersion"], obj["kind"], rendered.namespace, obj["metadata"]["name"]):
            progress(f"deleted {obj['kind']}/{obj['metadata']['name']} (no longer part of the function)")


def _apply(kube: Kube, obj: dict, progress: Progress) -> None:
    kube.apply(obj)
    progress(f"applied {obj['kind']}/{obj['metadata']['name']}")


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())
