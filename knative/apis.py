"""Which product serves an API group, to say "Knative Serving is not installed" instead of a bare 404."""
from __future__ import annotations

from .crd_schema import split_api_version

PRODUCTS = {
    "serving.knative.dev": "Knative Serving",
    "eventing.knative.dev": "Knative Eventing",
    "networking.istio.io": "Istio",
    "keda.sh": "KEDA",
    "http.keda.sh": "the KEDA HTTP add-on",
}


def not_installed(api_version: str) -> str:
    """``Knative Serving is not installed (no serving.knative.dev/v1 API); install it or pick another --context``."""
    group, _ = split_api_version(api_version)
    product = PRODUCTS.get(group, f"the {group or 'core'} API group")
    return (f"{product} is not installed (no {api_version} API on this cluster); install it "
            "(scripts/cluster-up.sh sets up kind + Knative + Istio) or pick another --context")
