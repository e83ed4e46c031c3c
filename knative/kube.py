"""The one small interface kfunc has to Kubernetes, on the official ``kubernetes`` client.

Server-side apply uses field manager ``kfunc``. The 37.x client returns None when an apply
*creates* an object (201 is not in its response map), so apply asks for the raw response and
parses the body itself. Any non-2xx answer becomes a :class:`KubeError` carrying the server's
message (an unknown field on apply is a 500 from the API server; treat it as a refusal).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from functions.errors import KFuncError

from .crd_schema import split_api_version

FIELD_MANAGER = "kfunc"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"


class KubeError(KFuncError):
    """The API server refused a request or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = status


def plural_of(kind: str) -> str:
    """The resource name Kubernetes uses for a kind (``Service`` -> ``services``)."""
    lower = kind.lower()
    return lower + "es" if lower.endswith(("s", "x")) else lower[:-1] + "ies" if lower.endswith("y") else lower + "s"


def _describe(exc: ApiException, action: str) -> KubeError:
    try:
        message = json.loads(exc.body or "{}").get("message") or exc.reason
    except (ValueError, AttributeError):
        message = exc.body or exc.reason
    return KubeError(f"{action}: the API server answered {exc.status}: {message}", exc.status)


class Kube:
    """Reads, applies, dry-runs and deletes objects through one ``ApiClient``."""

    def __init__(self, api_client: k8s.ApiClient, default_namespace: str = "default") -> None:
        self.api_client = api_client
        self.default_namespace = default_namespace
        self._custom = k8s.CustomObjectsApi(api_client)

    @classmethod
    def connect(cls, kubeconfig: str | None = None, context: str | None = None) -> "Kube":
        """From a kubeconfig (``--kubeconfig``/``$KUBECONFIG``/``~/.kube/config``) or, inside a pod, in-cluster config."""
        if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            configuration = k8s.Configuration()
            k8s_config.load_incluster_config(client_configuration=configuration)
            namespace_file = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
            namespace = namespace_file.read_text().strip() if namespace_file.exists() else "default"
            return cls(k8s.ApiClient(configuration), namespace)
        try:
            api_client = k8s_config.new_client_from_config(config_file=kubeconfig, context=context)
            contexts, current = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
        except (ConfigException, OSError) as exc:
            raise KubeError(f"cannot load kubeconfig: {exc}; pass --kubeconfig/--context, "
                            "or run scripts/cluster-up.sh") from None
        chosen = next((c for c in contexts if c["name"] == context), current) if context else current
        namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
        return cls(api_client, namespace)

    @classmethod
    def for_host(cls, host: str) -> "Kube":
        """A client for an API server at ``host`` with no credentials (a local proxy or a test server)."""
        configuration = k8s.Configuration(host=host)
        return cls(k8s.ApiClient(configuration))

    def _call(self, action: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except ApiException as exc:
            raise _describe(exc, action) from None
        except urllib3.exceptions.HTTPError as exc:
            raise KubeError(f"{action}: cannot reach the API server at {self.api_client.configuration.host}: {exc}") from None

    def _raw(self, action: str, method: Any, *args: Any, **kwargs: Any) -> dict:
        response = self._call(action, method, *args, _preload_content=False, **kwargs)
        return json.loads(response.data or b"{}")

    def get_configmap(self, namespace: str, name: str) -> dict[str, str] | None:
        """The ConfigMap's ``data``, or None when it does not exist."""
        try:
            read = k8s.CoreV1Api(self.api_client).read_namespaced_config_map
            body = self._raw(f"read configmap {namespace}/{name}", read, name, namespace)
        except KubeError as exc:
            if exc.http_status == 404:
                return None
            raise
        return body.get("data") or {}

    def list_crds(self) -> list[dict]:
        """Every CustomResourceDefinition in the cluster, as plain dicts (to read their schemas)."""
        api = k8s.ApiextensionsV1Api(self.api_client)
        return self._raw("list CustomResourceDefinitions", api.list_custom_resource_definition).get("items") or []

    def apply(self, obj: dict, dry_run: bool = False) -> dict:
        """Server-side apply (``force`` so kfunc owns its fields); ``dry_run`` validates without storing."""
        group, version = split_api_version(obj["apiVersion"])
        metadata = obj["metadata"]
        action = f"{'dry-run ' if dry_run else ''}apply {obj['kind']}/{metadata['name']}"
        return self._raw(action, self._custom.patch_namespaced_custom_object, group, version, metadata["namespace"],
                         plural_of(obj["kind"]), metadata["name"], obj, field_manager=FIELD_MANAGER, force=True,
                         dry_run="All" if dry_run else None, _content_type=APPLY_CONTENT_TYPE)

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict | None:
        """The object (with status), or None when it does not exist."""
        group, version = split_api_version(api_version)
        try:
            return self._raw(f"get {kind}/{name}", self._custom.get_namespaced_custom_object,
                             group, version, namespace, plural_of(kind), name)
        except KubeError as exc:
            if exc.http_status == 404:
                return None
            raise

    def list_labeled(self, api_version: str, kind: str, namespace: str, label_selector: str) -> list[dict]:
        """Objects of a kind matching ``label_selector``; an uninstalled kind lists nothing."""
        group, version = split_api_version(api_version)
        try:
            body = self._raw(f"list {plural_of(kind)}", self._custom.list_namespaced_custom_object,
                             group, version, namespace, plural_of(kind), label_selector=label_selector)
        except KubeError as exc:
            if exc.http_status == 404:
                return []
            raise
        return body.get("items") or []

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> bool:
        """Delete one object; False when it was not there."""
        group, version = split_api_version(api_version)
        try:
            self._raw(f"delete {kind}/{name}", self._custom.delete_namespaced_custom_object,
                      group, version, namespace, plural_of(kind), name)
        except KubeError as exc:
            if exc.http_status == 404:
                return False
            raise
        return True
