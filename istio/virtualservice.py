"""Render a :class:`TrafficPlan` as the Istio objects that route a function across its Knative Services.

Every destination is the Knative local gateway with the Host rewritten to the version's Knative
Service (``<function>-<version>.<ns>.svc.cluster.local``), so the activator stays in the path and
scale-from-zero keeps working (knative/serving#6639). The VirtualService is bound to the ingress
gateway, the local gateway and the mesh, and answers for the public host (if any) and for the
function's own cluster name, which an ExternalName Service makes resolvable (as KServe does).

Versions deployed with ``deploy.mode: raw`` are plain Kubernetes Services: their destinations are
the versions' Services themselves, with no Host rewrite. In mode ``keda`` they are the KEDA HTTP
add-on's interceptor with the Host of the version's HTTPScaledObject, so scale from zero works.

Envoy sends a mirrored request with ``-shadow`` appended to the Host it would have used, which the
local gateway does not route; a second, shadow VirtualService on the local gateway sends those
Hosts on to the mirror's version.
"""
from __future__ import annotations

from .hosts import (INGRESS_GATEWAY, ISTIO_API, LOCAL_GATEWAY, LOCAL_GATEWAY_HOST, LOCAL_GATEWAY_PORT,
                    MESH_GATEWAY, SHADOW_SUFFIX, labels, service_host, version_service)
from knative.keda import INTERCEPTOR_PORT, INTERCEPTOR_SERVICE
from knative.raw import SERVICE_PORT

from .plan import HeaderRoute, TrafficPlan

SPLIT_ROUTE = "split"
KEDA_INTERCEPTOR_HOST = f"{INTERCEPTOR_SERVICE}.keda.svc.cluster.local"  # the add-on's default install


def function_host(plan: TrafficPlan) -> str:
    """The cluster name callers inside the cluster use for the function as a whole."""
    return service_host(plan.function, plan.namespace)


def version_host(plan: TrafficPlan, version: str) -> str:
    return service_host(version_service(plan.function, version), plan.namespace)


def render(plan: TrafficPlan) -> list[dict]:
    """Everything to apply, in order: the ExternalName Service, the VirtualService, and the shadow one if mirroring."""
    objects = [external_name_service(plan), virtual_service(plan)]
    if plan.mirror and plan.mode == "knative":
        objects.append(shadow_virtual_service(plan))
    return objects


def stale_objects(plan: TrafficPlan) -> tuple[tuple[str, str, str], ...]:
    """What an earlier plan may have left that this one has not: the shadow VirtualService without a mirror."""
    return () if plan.mirror else ((ISTIO_API, "VirtualService", f"{plan.function}{SHADOW_SUFFIX}"),)


def virtual_service(plan: TrafficPlan) -> dict:
    hosts = [plan.public_host] if plan.public_host else []
    http = [_header_route(plan, route) for route in plan.header_routes]
    split = {"name": SPLIT_ROUTE, "route": [_destination(plan, version, weight) for version, weight in plan.weights.items()]}
    if plan.mirror:
        split["mirror"] = _destination(plan, plan.mirror.target, 100)["destination"]
        split["mirrorPercentage"] = {"value": float(plan.mirror.percent)}
    http.append(_with_policies(plan, split))
    return {
        "apiVersion": ISTIO_API,
        "kind": "VirtualService",
        "metadata": _metadata(plan, plan.function),
        "spec": {
            "hosts": [*hosts, function_host(plan)],
            "gateways": [INGRESS_GATEWAY, LOCAL_GATEWAY, MESH_GATEWAY],
            "http": http,
        },
    }


def shadow_virtual_service(plan: TrafficPlan) -> dict:
    """Routes the ``-shadow`` Hosts of mirrored requests, at the local gateway, to the mirror's version."""
    assert plan.mirror is not None
    sources = [version_host(plan, version) for version in plan.weights]
    return {
        "apiVersion": ISTIO_API,
        "kind": "VirtualService",
        "metadata": _metadata(plan, f"{plan.function}{SHADOW_SUFFIX}"),
        "spec": {
            "hosts": [host + SHADOW_SUFFIX for host in sources],
            "gateways": [LOCAL_GATEWAY],
            "http": [{"name": "mirror", "route": [_destination(plan, plan.mirror.target, 100)]}],
        },
    }


def external_name_service(plan: TrafficPlan) -> dict:
    """A core Service named after the function, pointing at the local gateway (mode raw: the first version's
    Service; keda: the interceptor), so its cluster name resolves."""
    destination = _destination(plan, plan.versions[0], 100)["destination"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(plan, plan.function),
        "spec": {"type": "ExternalName", "externalName": destination["host"],
                 "ports": [{"name": "http", "port": destination["port"]["number"], "protocol": "TCP"}]},
    }


def _metadata(plan: TrafficPlan, name: str) -> dict:
    return {"name": name, "namespace": plan.namespace, "labels": labels(plan.function)}


def _destination(plan: TrafficPlan, version: str, weight: int) -> dict:
    if plan.mode == "raw":
        return {"destination": {"host": version_host(plan, version), "port": {"number": SERVICE_PORT}}, "weight": weight}
    gateway = (KEDA_INTERCEPTOR_HOST, INTERCEPTOR_PORT) if plan.mode == "keda" else (LOCAL_GATEWAY_HOST, LOCAL_GATEWAY_PORT)
    return {
        "destination": {"host": gateway[0], "port": {"number": gateway[1]}},
        "headers": {"request": {"set": {"Host": version_host(plan, version)}}},
        "weight": weight,
    }


def _header_route(plan: TrafficPlan, route: HeaderRoute) -> dict:
    return _with_policies(plan, {
        "name": route.route_name,
        "match": [{"headers": {route.header: {route.match: route.value}}}],
        "route": [_destination(plan, route.target, 100)],
    })


def _with_policies(plan: TrafficPlan, route: dict) -> dict:
    if plan.timeout:
        route["timeout"] = plan.timeout
    if plan.retries:
        retries: dict = {"attempts": plan.retries.attempts}
        if plan.retries.per_try_timeout:
            retries["perTryTimeout"] = plan.retries.per_try_timeout
        if plan.retries.retry_on:
            retries["retryOn"] = plan.retries.retry_on
        route["retries"] = retries
    return route
