"""Canary between revisions of one Knative Service through its ``spec.traffic`` block (KServe semantics).

KServe's ``canaryTrafficPercent``: the latest revision (tag ``latest``) gets N%, the last revision
that was rolled out to 100% (tag ``prev``) the rest. Promote sends 100% to the latest; roll back
sends 100% to the last good revision and keeps ``latest`` reachable at 0% through its tag.

The result is a partial Service holding only ``spec.traffic``, applied with its own field manager
(:data:`TRAFFIC_FIELD_MANAGER`) so that a later ``kfunc deploy`` (manager ``kfunc``) neither drops
nor fights over the traffic block: a new revision then takes the canary share by itself.
"""
from __future__ import annotations

from functions.errors import ConfigError

from .hosts import SERVING_API

TRAFFIC_FIELD_MANAGER = "kfunc-traffic"
LATEST_TAG = "latest"
PREVIOUS_TAG = "prev"


def last_good_revision(service: dict) -> str:
    """The revision to fall back to: the one tagged ``prev``, else the one serving 100% now."""
    name = service.get("metadata", {}).get("name", "?")
    for target in service.get("spec", {}).get("traffic") or []:
        if target.get("tag") == PREVIOUS_TAG and target.get("revisionName"):
            return target["revisionName"]
    serving = [t for t in (service.get("status") or {}).get("traffic") or [] if t.get("percent") == 100 and t.get("revisionName")]
    if serving:
        return serving[0]["revisionName"]
    raise ConfigError(f"Service {name}: cannot tell the last good revision (no '{PREVIOUS_TAG}' tag and no revision "
                      "serving 100%); pass --revision NAME (see kubectl get revisions)")


def canary(service: dict, percent: int, last_good: str | None = None) -> dict:
    """``percent`` to the latest revision, the rest to the last good one."""
    if not 0 <= percent <= 100:
        raise ConfigError(f"--percent {percent}: use 0 to 100")
    previous = last_good or last_good_revision(service)
    traffic = [{"tag": LATEST_TAG, "latestRevision": True, "percent": percent}]
    if percent < 100:
        traffic.append({"tag": PREVIOUS_TAG, "revisionName": previous, "latestRevision": False, "percent": 100 - percent})
    return _patch(service, traffic)


def promote(service: dict) -> dict:
    """All traffic to the latest revision; it becomes the last good one once it serves 100%."""
    return _patch(service, [{"tag": LATEST_TAG, "latestRevision": True, "percent": 100}])


def rollback(service: dict, last_good: str | None = None) -> dict:
    """All traffic back to the last good revision; the latest stays reachable through its tag."""
    return canary(service, 0, last_good)


def _patch(service: dict, traffic: list[dict]) -> dict:
    metadata = service.get("metadata") or {}
    if not metadata.get("name") or not metadata.get("namespace"):
        raise ConfigError("the Knative Service has no metadata.name/namespace; fetch it from the cluster or pass a full manifest")
    return {
        "apiVersion": SERVING_API,
        "kind": "Service",
        "metadata": {"name": metadata["name"], "namespace": metadata["namespace"]},
        "spec": {"traffic": traffic},
    }
