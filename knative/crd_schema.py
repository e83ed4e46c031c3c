"""CustomResourceDefinition schemas, read from a directory of CRD YAML files or from the cluster.

Each served version's ``openAPIV3Schema`` is indexed by (group, kind, version). The root
``metadata`` of every object is an ObjectMeta, which CRDs leave undeclared; :data:`OBJECT_META`
stands in for it so unknown metadata fields are caught too.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from functions.errors import ConfigError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's loader parses large CRDs 4x faster
_STRING = {"type": "string"}
_STRING_MAP = {"type": "object", "additionalProperties": _STRING}
_INT64 = {"type": "integer", "format": "int64"}
_OPAQUE_LIST = {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}

OBJECT_META = {
    "type": "object",
    "properties": {
        "name": _STRING, "generateName": _STRING, "namespace": _STRING, "uid": _STRING,
        "resourceVersion": _STRING, "selfLink": _STRING, "creationTimestamp": _STRING,
        "deletionTimestamp": _STRING, "generation": _INT64, "deletionGracePeriodSeconds": _INT64,
        "labels": _STRING_MAP, "annotations": _STRING_MAP,
        "finalizers": {"type": "array", "items": _STRING},
        "ownerReferences": _OPAQUE_LIST, "managedFields": _OPAQUE_LIST,
    },
}


def split_api_version(api_version: str) -> tuple[str, str]:
    """``"serving.knative.dev/v1"`` -> ("serving.knative.dev", "v1"); core ``"v1"`` -> ("", "v1")."""
    group, _, version = api_version.rpartition("/")
    return group, version


class CrdSchemas:
    """Schemas of the CRDs given, looked up by an object's apiVersion and kind."""

    def __init__(self, crds: Iterable[dict], source: str = "the CRDs given") -> None:
        self.source = source  # where the schemas came from, for notes ("--crds DIR", "the cluster's /openapi/v3")
        self._versions: dict[tuple[str, str], dict[str, dict]] = {}
        for crd in crds:
            spec = crd.get("spec") or {}
            key = (spec.get("group", ""), (spec.get("names") or {}).get("kind", ""))
            for version in spec.get("versions") or []:
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if version.get("served", True) and schema:
                    self._versions.setdefault(key, {})[version["name"]] = schema

    def knows(self, api_version: str, kind: str) -> bool:
        """True when a CRD for this group and kind was given (whatever its versions)."""
        return (split_api_version(api_version)[0], kind) in self._versions

    def groups(self) -> set[str]:
        return {group for group, _ in self._versions}

    def served_versions(self, api_version: str, kind: str) -> list[str]:
        return sorted(self._versions.get((split_api_version(api_version)[0], kind), {}))

    def schema_for(self, api_version: str, kind: str) -> dict | None:
        """The openAPIV3Schema for exactly this apiVersion and kind, or None."""
        group, version = split_api_version(api_version)
        return self._versions.get((group, kind), {}).get(version)

    @classmethod
    def from_openapi(cls, documents: Iterable[dict], source: str) -> "CrdSchemas":
        """The schemas of the kinds in kube-apiserver's ``/openapi/v3`` group-version documents.

        Each kind's schema carries ``x-kubernetes-group-version-kind``; its ``metadata`` is a
        ``$ref`` to ObjectMeta, which :data:`OBJECT_META` stands in for as for a CRD.
        """
        schemas = cls([], source)
        for document in documents:
            for schema in ((document.get("components") or {}).get("schemas") or {}).values():
                for gvk in schema.get("x-kubernetes-group-version-kind") or []:
                    key = (gvk.get("group", ""), gvk.get("kind", ""))
                    schemas._versions.setdefault(key, {})[gvk.get("version", "")] = schema
        return schemas

    @classmethod
    def from_directory(cls, path: str | Path) -> "CrdSchemas":
        """Every CustomResourceDefinition in ``*.yaml``/``*.yml`` files of ``path`` (other documents are skipped)."""
        directory = Path(path)
        if not directory.is_dir():
            raise ConfigError(f"--crds {path}: not a directory; point it at a folder of CRD YAML files")
        crds = []
        for file in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
            try:
                documents = list(yaml.load_all(file.read_text(), Loader=_LOADER))
            except yaml.YAMLError as exc:
                raise ConfigError(f"--crds {file}: not valid YAML: {exc}") from None
            crds.extend(d for d in documents if isinstance(d, dict) and d.get("kind") == "CustomResourceDefinition")
        if not crds:
            raise ConfigError(f"--crds {path}: no CustomResourceDefinition found in its *.yaml files")
        return cls(crds, f"--crds {path}")
