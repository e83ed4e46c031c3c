"""Find a function's objects in the cluster (by kfunc's labels), describe them, delete them."""
from __future__ import annotations

from istio.hosts import ISTIO_API  # the model-affinity DestinationRule (istio/placement.py)

from .kube import Kube
from .manifests import CACHE_WARM_COMPONENT, COMPONENT_LABEL, EVENTING_API, MANAGED_BY_LABEL, NAME_LABEL, SERVING_API
from .modes import describe_lines, workload_objects
from .readiness import revision_failure, state_of

KINDS = ((EVENTING_API, "Trigger"), (SERVING_API, "Service"), (ISTIO_API, "DestinationRule"))
WARM_UP_KINDS = (("batch/v1", "Job"), ("apps/v1", "DaemonSet"))


def function_objects(kube: Kube, namespace: str, name: str, labeled_only: bool = False) -> list[dict]:
    """Triggers, Services, the model-affinity rule, then raw/keda objects kfunc deployed for function ``name``; else (unless
    ``labeled_only``) a Service of that name."""
    selector = f"{NAME_LABEL}={name},{MANAGED_BY_LABEL}=kfunc"
    found = [obj for api, kind in KINDS for obj in kube.list_labeled(api, kind, namespace, selector)]
    found += workload_objects(kube, namespace, name)
    if found or labeled_only:
        return found
    service = kube.get(SERVING_API, "Service", namespace, name)
    return [service] if service else []


def warm_up_objects(kube: Kube, namespace: str, name: str) -> list[dict]:
    """The cache warm-up Jobs and DaemonSets kfunc deployed for function ``name``."""
    selector = f"{NAME_LABEL}={name},{MANAGED_BY_LABEL}=kfunc,{COMPONENT_LABEL}={CACHE_WARM_COMPONENT}"
    return [obj for api, kind in WARM_UP_KINDS for obj in kube.list_labeled(api, kind, namespace, selector)]


def describe(kube: Kube, namespace: str, name: str) -> str:
    """A short human report: URL, readiness (with the failing revision's reason), traffic, triggers."""
    lines = []
    for obj in function_objects(kube, namespace, name):
        metadata = obj.get("metadata") or {}
        lines.append(f"{obj.get('kind')} {namespace}/{metadata.get('name')}")
        if obj.get("kind") == "Trigger":
            spec = obj.get("spec") or {}
            filters = ((spec.get("filter") or {}).get("attributes")) or {}
            target = ((spec.get("subscriber") or {}).get("ref") or {}).get("name", "?")
            lines.append(f"  broker:   {spec.get('broker')}  filters: {filters or 'none'}  -> {target}")
            continue
        if obj.get("kind") == "DestinationRule":
            spec = obj.get("spec") or {}
            lines.append(f"  Affinity: requests hashed on X-Kfunc-Model onto the pods of {spec.get('host')}")
            continue
        knative = obj.get("apiVersion") == SERVING_API
        lines.extend(_service_lines(kube, namespace, obj) if knative else describe_lines(obj))
    return "\n".join(lines)


def _service_lines(kube: Kube, namespace: str, service: dict) -> list[str]:
    state = state_of(service)
    status = service.get("status") or {}
    lines = [f"  URL:      {state.url or '(none yet)'}", f"  Ready:    {state.summary}",
             f"  Revision: {state.latest_revision or '-'} (ready: {status.get('latestReadyRevisionName') or '-'})"]
    if state.ready == "False":
        failure = revision_failure(kube, namespace, state.latest_revision)
        if failure:
            lines.append(f"  Failing:  {failure}")
    for target in status.get("traffic") or []:
        tag = f" tag={target['tag']}" if target.get("tag") else ""
        latest = " (latest)" if target.get("latestRevision") else ""
        lines.append(f"  Traffic:  {target.get('percent', 0)}% -> {target.get('revisionName', '?')}{latest}{tag}")
    return lines


def delete_function(kube: Kube, namespace: str, name: str) -> list[str]:
    """Delete the function's Triggers, Services and cache warm-ups; return ``Kind/name`` of what was deleted."""
    deleted = []
    for obj in [*function_objects(kube, namespace, name), *warm_up_objects(kube, namespace, name)]:
        metadata = obj["metadata"]
        if kube.delete(obj["apiVersion"], obj["kind"], namespace, metadata["name"]):
            deleted.append(f"{obj['kind']}/{metadata['name']}")
    return deleted
