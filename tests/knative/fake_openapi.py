"""CRD schemas published as kube-apiserver does under ``/openapi/v3``, and its strict field check.

The index maps ``apis/GROUP/VERSION`` to a ``serverRelativeURL``; each group-version document has
``components.schemas`` named by the reversed group (``dev.knative.serving.v1.Service``), with
``x-kubernetes-group-version-kind`` and ``metadata`` as a ``$ref`` to ObjectMeta.
"""
from __future__ import annotations

import copy

OBJECT_META_REF = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def served_versions(crds: list[dict]) -> dict[str, dict[str, dict]]:
    """``{"serving.knative.dev/v1": {"services": crd, ...}}`` for every served version."""
    served: dict[str, dict[str, dict]] = {}
    for crd in crds:
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served", True):
                served.setdefault(f"{spec['group']}/{version['name']}", {})[spec["names"]["plural"]] = crd
    return served


def index(crds: list[dict]) -> dict:
    paths = {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=0"}}
    for group_version in served_versions(crds):
        paths[f"apis/{group_version}"] = {"serverRelativeURL": f"/openapi/v3/apis/{group_version}?hash=1"}
    return {"paths": paths}


def document(crds: list[dict], group_version: str) -> dict | None:
    resources = served_versions(crds).get(group_version)
    if resources is None:
        return None
    group, version = group_version.split("/")
    schemas = {OBJECT_META_REF: {"type": "object", "properties": {"name": {"type": "string"}}}}
    for crd in resources.values():
        kind = crd["spec"]["names"]["kind"]
        schema = copy.deepcopy(_schema(crd, version))
        schema.setdefault("properties", {})["metadata"] = {"allOf": [{"$ref": f"#/components/schemas/{OBJECT_META_REF}"}]}
        schema["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind, "version": version}]
        schemas[f"{'.'.join(reversed(group.split('.')))}.{version}.{kind}"] = schema
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes CRD Swagger", "version": "v0.1.0"},
            "paths": {}, "components": {"schemas": schemas}}


def _schema(crd: dict, version: str) -> dict:
    return next(v for v in crd["spec"]["versions"] if v["name"] == version)["schema"]["openAPIV3Schema"]


def first_unknown_field(obj: dict, crd: dict, version: str) -> str | None:
    """The first field the CRD's schema does not declare (``.spec.foo``), as a strict apply reports it."""
    return _unknown(obj, _schema(crd, version), "", root=True)


def _unknown(value, schema: dict, path: str, root: bool = False) -> str | None:
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return None
    if isinstance(value, dict) and schema.get("type") == "object":
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if root and key in ("apiVersion", "kind", "metadata"):
                continue
            if properties is not None and key in properties:
                found = _unknown(item, properties[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                found = _unknown(item, extra, f"{path}.{key}")
            elif properties is not None or extra is False:
                return f"{path}.{key}"
            else:
                found = None
            if found:
                return found
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for position, item in enumerate(value):
            found = _unknown(item, schema["items"], f"{path}[{position}]")
            if found:
                return found
    return None
