"""The schemas of the custom kinds kfunc applies, read from the cluster itself.

They come from the API server's ``/openapi/v3`` documents (one per group-version, e.g.
``/openapi/v3/apis/serving.knative.dev/v1``), which any authenticated user may read, so a user
bound to one namespace (the usual ``edit`` RoleBinding) is checked like a cluster admin. Only
an API server without ``/openapi/v3`` (before Kubernetes 1.27) falls back to listing every
CustomResourceDefinition, which needs a cluster-scoped permission. A group the cluster does not
serve stops here with the product to install ("Knative Serving is not installed").
"""
from __future__ import annotations

from .apis import not_installed
from .crd_schema import CrdSchemas, split_api_version
from .kube import Kube, KubeError

OPENAPI_INDEX = "/openapi/v3"
BUILT_IN_GROUPS = frozenset({"", "apps", "batch", "autoscaling"})
_FALLBACK_HINT = "; pass --crds DIR (a folder of the CRD YAML files) to validate without reading them from the cluster"


def cluster_schemas(kube: Kube, objects: list[dict]) -> CrdSchemas:
    """Schemas for every custom kind in ``objects``; KubeError names the missing product or ``--crds``."""
    api_versions = sorted({o["apiVersion"] for o in objects if split_api_version(o["apiVersion"])[0] not in BUILT_IN_GROUPS})
    try:
        index = kube.get_path(OPENAPI_INDEX, "read the API server's /openapi/v3 index")
        if index is None:
            return _from_crd_list(kube, api_versions)
        paths = index.get("paths") or {}
        documents = []
        for api_version in api_versions:
            group = split_api_version(api_version)[0]
            served = [p for p in paths if p.startswith(f"apis/{group}/")]
            if not served:
                raise KubeError(not_installed(api_version), 404)
            documents.extend(kube.get_path(paths[p]["serverRelativeURL"], f"read /openapi/v3/{p}") or {} for p in served)
    except KubeError as exc:
        raise KubeError(f"{exc}{_FALLBACK_HINT if exc.http_status in (401, 403) else ''}", exc.http_status) from None
    return CrdSchemas.from_openapi(documents, "the cluster's /openapi/v3")


def _from_crd_list(kube: Kube, api_versions: list[str]) -> CrdSchemas:
    schemas = CrdSchemas(kube.list_crds(), "the cluster's CustomResourceDefinitions")
    for api_version in api_versions:
        if split_api_version(api_version)[0] not in schemas.groups():
            raise KubeError(not_installed(api_version), 404)
    return schemas
