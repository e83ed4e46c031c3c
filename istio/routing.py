"""A function's live routing objects in the cluster: find them, see what they send traffic to, delete them.

kfunc labels what ``kfunc traffic`` applies with the function's name and ``managed-by: kfunc``:
the VirtualService NAME, the shadow VirtualService NAME-shadow and the ExternalName Service NAME.
The namespace's DestinationRule for the local gateway is shared, so it goes with the last
VirtualService kfunc made there.
"""
from __future__ import annotations

from knative.kube import Kube

from .destinationrule import RULE_NAME
from .hosts import ISTIO_API, MANAGED_BY_LABEL, NAME_LABEL
from .status import route_weights

KFUNC_SELECTOR = f"{MANAGED_BY_LABEL}=kfunc"


def _ours(obj: dict | None) -> bool:
    metadata = (obj or {}).get("metadata") or {}
    return (metadata.get("labels") or {}).get(MANAGED_BY_LABEL) == "kfunc" and not metadata.get("ownerReferences")


def delete_if_ours(kube: Kube, api_version: str, kind: str, namespace: str, name: str) -> bool:
    """Delete the object when kfunc made it (its label, no owner); True when it was deleted."""
    return _ours(kube.get(api_version, kind, namespace, name)) and kube.delete(api_version, kind, namespace, name)


def routing_objects(kube: Kube, namespace: str, function: str) -> list[dict]:
    """The VirtualServices and ExternalName Service ``kfunc traffic`` made for ``function``."""
    selector = f"{NAME_LABEL}={function},{KFUNC_SELECTOR}"
    services = [s for s in kube.list_labeled("v1", "Service", namespace, selector)
                if (s.get("spec") or {}).get("type") == "ExternalName" and _ours(s)]
    return [*kube.list_labeled(ISTIO_API, "VirtualService", namespace, selector), *services]


def delete_routing(kube: Kube, namespace: str, function: str) -> list[str]:
    """Delete ``function``'s routing (and the shared DestinationRule when no kfunc route is left); ``Kind/name`` each."""
    deleted = [f"{o['kind']}/{o['metadata']['name']}" for o in routing_objects(kube, namespace, function)
               if kube.delete(o["apiVersion"], o["kind"], namespace, o["metadata"]["name"])]
    if deleted and not kube.list_labeled(ISTIO_API, "VirtualService", namespace, KFUNC_SELECTOR):
        if delete_if_ours(kube, ISTIO_API, "DestinationRule", namespace, RULE_NAME):
            deleted.append(f"DestinationRule/{RULE_NAME}")
    return deleted


def routes_to(kube: Kube, namespace: str, service: str) -> dict[str, int]:
    """``{"VirtualService/NAME (route)": percent}`` for each kfunc route that lists Knative Service ``service``."""
    found = {}
    for virtual_service in kube.list_labeled(ISTIO_API, "VirtualService", namespace, KFUNC_SELECTOR):
        for route in (virtual_service.get("spec") or {}).get("http") or []:
            weights = route_weights(route)
            if service in weights:
                found[f"VirtualService/{virtual_service['metadata']['name']} ({route.get('name', 'route')})"] = weights[service]
    return found
