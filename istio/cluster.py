"""What kfunc's traffic commands need from a cluster, and its implementation on ``knative.kube.Kube``.

``Kube.apply`` always uses field manager ``kfunc`` and only reaches custom resources; traffic
also applies a core ExternalName Service and the Knative traffic block under its own manager.
:class:`KubeCluster` passes custom objects under ``kfunc`` to ``Kube`` and does the rest on the
same ``ApiClient`` with the same server-side apply rules.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Protocol

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from knative.kube import APPLY_CONTENT_TYPE, FIELD_MANAGER, Kube, KubeError, plural_of


class Cluster(Protocol):
    """Read, server-side apply (optionally as a dry run), and list the CRDs to validate against."""

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict | None: ...

    def apply(self, obj: dict, dry_run: bool = False, field_manager: str = FIELD_MANAGER) -> dict: ...

    def list_crds(self) -> list[dict]: ...


class KubeCluster:
    """:class:`Cluster` on a connected :class:`Kube`."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._core = k8s.CoreV1Api(kube.api_client)
        self._custom = k8s.CustomObjectsApi(kube.api_client)

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict | None:
        if api_version != "v1":
            return self.kube.get(api_version, kind, namespace, name)
        try:
            return self._raw(f"get {kind}/{name}", self._core.read_namespaced_service, name, namespace)
        except KubeError as exc:
            if exc.http_status == 404:
                return None
            raise

    def list_crds(self) -> list[dict]:
        return self.kube.list_crds()

    def apply(self, obj: dict, dry_run: bool = False, field_manager: str = FIELD_MANAGER) -> dict:
        if obj["apiVersion"] != "v1" and field_manager == FIELD_MANAGER:
            return self.kube.apply(obj, dry_run=dry_run)
        metadata = obj["metadata"]
        action = f"{'dry-run ' if dry_run else ''}apply {obj['kind']}/{metadata['name']}"
        options = {"field_manager": field_manager, "force": True, "dry_run": "All" if dry_run else None,
                   "_content_type": APPLY_CONTENT_TYPE}
        if obj["apiVersion"] == "v1":
            if obj["kind"] != "Service":
                raise KubeError(f"{action}: kfunc applies no core {obj['kind']}")
            return self._raw(action, self._core.patch_namespaced_service, metadata["name"], metadata["namespace"], obj, **options)
        group, _, version = obj["apiVersion"].rpartition("/")
        return self._raw(action, self._custom.patch_namespaced_custom_object, group, version, metadata["namespace"],
                         plural_of(obj["kind"]), metadata["name"], obj, **options)

    def _raw(self, action: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> dict:
        try:
            response = method(*args, _preload_content=False, **kwargs)
        except ApiException as exc:
            try:
                message = json.loads(exc.body or "{}").get("message") or exc.reason
            except (ValueError, AttributeError):
                message = exc.body or exc.reason
            raise KubeError(f"{action}: the API server answered {exc.status}: {message}", exc.status) from None
        except urllib3.exceptions.HTTPError as exc:
            raise KubeError(f"{action}: cannot reach the API server at {self.kube.api_client.configuration.host}: {exc}") from None
        return json.loads(response.data or b"{}")
