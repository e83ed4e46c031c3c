"""Placement of a multi-model function's models across its replicas: a DestinationRule that hashes
requests on the model header onto the replicas (Istio's consistent hashing, a ring of the endpoints),
so a model's requests keep reaching the replica that has it loaded.

Requests name their model in ``X-Kfunc-Model`` (the V1/V2 path carries it too, but Istio hashes on a
header, a cookie, the source IP or a query parameter, not a path segment). The rule acts where an
Envoy picks among the function's pods: the local mesh's Envoy, or in a cluster a sidecar or gateway
routing to the revision's endpoints directly. Knative's activator balances on its own (round robin
over pods with free capacity) and ignores the rule: it is in the path while the revision scales from
zero and whenever its burst capacity is exceeded, so keep it out with
``autoscaling.knative.dev/target-burst-capacity: "0"`` and ``min-scale >= 1`` (see docs/multi-model.md).

``kfunc deploy`` with ``deploy.model-affinity`` applies the rule with the Service (``deployed_rule``):
in mode knative on the host of the revision it names (knative/manifests.py), in mode raw on the
function's Kubernetes Service.
"""
from __future__ import annotations

from .hosts import ISTIO_API, MANAGED_BY_LABEL, NAME_LABEL, SERVING_API, service_host

MODEL_HEADER = "x-kfunc-model"


def model_affinity_rule(function: str, host: str, namespace: str) -> dict:
    """The DestinationRule hashing ``host``'s requests on ``X-Kfunc-Model`` onto its endpoints."""
    return {
        "apiVersion": ISTIO_API,
        "kind": "DestinationRule",
        "metadata": {"name": f"{function}-model-affinity", "namespace": namespace,
                     "labels": {NAME_LABEL: function, MANAGED_BY_LABEL: "kfunc"}},
        "spec": {"host": host, "trafficPolicy": {"loadBalancer": {"consistentHash": {"httpHeaderName": MODEL_HEADER}}}},
    }


def deployed_rule(function: str, objects: list[dict], namespace: str) -> dict:
    """The rule for the objects ``kfunc deploy`` renders: on the named revision of the Knative
    Service (its Kubernetes Service, whose endpoints are the pods while the activator is out of the
    path), or on mode raw's Service."""
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) == (SERVING_API, "Service"):
            return model_affinity_rule(function, service_host(obj["spec"]["template"]["metadata"]["name"], namespace),
                                       namespace)
        if (obj["apiVersion"], obj["kind"]) == ("v1", "Service"):
            return model_affinity_rule(function, service_host(obj["metadata"]["name"], namespace), namespace)
    raise ValueError(f"no Service of function {function!r} among the objects to deploy")
