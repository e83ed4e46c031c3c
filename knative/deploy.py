"""The deploy pipeline: render -> validate -> preflight features -> server dry run -> apply -> wait Ready.

Nothing is applied unless every object passes the offline checks, the feature preflight and the
API server's own dry run, so a refused deploy leaves the cluster untouched. A cache warm-up
(``--warm-cache``) is applied first and must finish before the Services are applied.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from functions.config import load_config
from functions.errors import ConfigError

from . import features, modes
from .autoscaling import ServingLimits
from .cache_warm import WarmMode, render_cache_warm
from .crd_schema import CrdSchemas
from .kube import Kube, KubeError
from .manifests import Rendered
from .readiness import Progress, ServiceState
from .settings import check_combination, load_deploy_settings
from .validate import ValidationReport, validate_objects
from .warm_wait import wait_warmed

WAIT_MARGIN_SECONDS = 60


def prepare(function_dir: str | Path, namespace: str | None = None, image: str | None = None,
            split: bool | None = None, default_namespace: str = "default", warm_cache: WarmMode | None = None,
            mode: str | None = None) -> Rendered:
    """Load ``kfunc.yaml``, apply command-line overrides, and render the objects, the cache warm-up first.

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
    if not settings.cache.warm:
        return rendered
    warm_up = render_cache_warm(config, settings, settings.cache.warm)
    return dataclasses.replace(rendered, objects=[warm_up, *rendered.objects])


def load_schemas(crds_dir: str | None, kube: Kube | None) -> CrdSchemas | None:
    """CRD schemas from ``--crds DIR``, else from the cluster, else None (webhook rules only)."""
    if crds_dir:
        return CrdSchemas.from_directory(crds_dir)
    return CrdSchemas(kube.list_crds()) if kube else None


def serving_limits(kube: Kube) -> ServingLimits:
    """The cluster's revision timeout, concurrency and initial-scale limits."""
    return ServingLimits.from_configmaps(kube.get_configmap(features.NAMESPACE, "config-defaults"),
                                         kube.get_configmap(features.NAMESPACE, "config-autoscaler"))


def check_offline(rendered: Rendered, schemas: CrdSchemas | None, limits: ServingLimits = ServingLimits()) -> ValidationReport:
    """CRD schema and webhook checks; raise ValidationFailed with every problem."""
    report = validate_objects(rendered.objects, schemas, limits)
    report.raise_for_problems()
    return report


def preflight(rendered: Rendered, kube: Kube) -> None:
    """Stop with the exact ``kubectl patch`` when a needed Knative feature flag is off (mode knative only)."""
    if rendered.mode != "knative":
        return
    data = kube.get_configmap(features.NAMESPACE, features.CONFIGMAP)
    if data is None:
        raise KubeError(f"{features.NAMESPACE}/{features.CONFIGMAP} not found: is Knative Serving installed? "
                        "(scripts/cluster-up.sh sets up kind + Knative + Istio)")
    features.preflight(rendered.objects, data)


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
    return [modes.wait_for(kube, rendered, workload, _left(deadline), progress) for workload in rendered.workloads]


def _apply(kube: Kube, obj: dict, progress: Progress) -> None:
    kube.apply(obj)
    progress(f"applied {obj['kind']}/{obj['metadata']['name']}")


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())
