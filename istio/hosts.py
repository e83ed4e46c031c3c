"""Names shared by everything that routes to Knative Services through Istio (see FIELD-NOTES)."""
from __future__ import annotations

ISTIO_API = "networking.istio.io/v1"
SERVING_API = "serving.knative.dev/v1"
LOCAL_GATEWAY_HOST = "knative-local-gateway.istio-system.svc.cluster.local"
LOCAL_GATEWAY_PORT = 80
INGRESS_GATEWAY = "knative-serving/knative-ingress-gateway"
LOCAL_GATEWAY = "knative-serving/knative-local-gateway"
MESH_GATEWAY = "mesh"
SHADOW_SUFFIX = "-shadow"
NAME_LABEL = "app.kubernetes.io/name"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"


def service_host(service: str, namespace: str) -> str:
    """The cluster-local name of a Knative Service: the Host the local gateway routes on."""
    return f"{service}.{namespace}.svc.cluster.local"


def version_service(function: str, version: str) -> str:
    """The Knative Service that runs one version of a function (``my-model`` + ``green`` -> ``my-model-green``)."""
    return f"{function}-{version}"


def labels(function: str) -> dict[str, str]:
    return {NAME_LABEL: function, MANAGED_BY_LABEL: "kfunc"}
