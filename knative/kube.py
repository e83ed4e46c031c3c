"""The one small interface kfunc has to Kubernetes, on the official ``kubernetes`` client.

Objects are addressed by apiVersion: core ``v1`` lives under ``/api/v1``, every group under
``/apis/GROUP/VERSION``. Requests go through the client's ``ApiClient`` (its kubeconfig, TLS and
token handling) and the JSON answer is parsed here, since the 37.x client's typed calls return
None when an apply *creates* an object (201 is not in their response maps). Server-side apply
uses field manager ``kfunc`` unless told otherwise, forcing ownership unless told not to. Any
non-2xx answer becomes a :class:`KubeError` carrying the server's message and the fix (a 401
names the credentials, a 403 the Role of ``kfunc deploy --print-role``, a 409 ``--force``, a
plain-text 404 the product that is not installed); an unknown field on apply is a 500 from the
API server, treated as a refusal. urllib3 does not retry, so an unreachable server is one message.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from functions.errors import ConfigError, KFuncError

from .apis import not_installed
from .crd_schema import split_api_version

FIELD_MANAGER = "kfunc"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


class KubeError(KFuncError):
    """The API server refused a request or could not be reached."""

    exit_code = 4  # scaffold/cli.py: the cluster refused

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = status


def plural_of(kind: str) -> str:
    """The resource name Kubernetes uses for a kind (``Service`` -> ``services``)."""
    lower = kind.lower()
    return lower + "es" if lower.endswith(("s", "x")) else lower[:-1] + "ies" if lower.endswith("y") else lower + "s"


def resource_path(api_version: str, kind: str, namespace: str, name: str | None = None) -> str:
    """``/api/v1/namespaces/NS/services/NAME`` for core objects, ``/apis/GROUP/VERSION/...`` for the rest."""
    group, version = split_api_version(api_version)
    root = f"/apis/{group}/{version}" if group else f"/api/{version}"
    path = f"{root}/namespaces/{quote(namespace, safe='')}/{plural_of(kind)}"
    return f"{path}/{quote(name, safe='')}" if name else path


def _refusal(action: str, status: int, body: bytes | str | None, reason: str | None, path: str = "") -> KubeError:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        message = json.loads(text or "{}").get("message") or reason
    except (ValueError, AttributeError):
        if status == 404:  # plain "404 page not found": nothing serves this group/version
            return KubeError(f"{action}: {not_installed(api_version_of(path))}", status)
        message = text.strip() or reason
    return KubeError(f"{action}: the API server answered {status}: {message}{_HINTS.get(status, '')}", status)


_HINTS = {
    401: "; the cluster refused your credentials: refresh the kubeconfig user's token or certificate "
         "(kubectl auth whoami), or pick another --context/--kubeconfig",
    403: "; ask for the namespaced Role of `kfunc deploy --print-role` (docs/deploy.md)",
    409: "; another field manager owns these fields: pass --force to take them over",
}


def api_version_of(path: str) -> str:
    """``/apis/serving.knative.dev/v1/namespaces/...`` -> ``serving.knative.dev/v1``; ``/api/v1/...`` -> ``v1``."""
    parts = path.strip("/").split("/")
    return "/".join(parts[1:3]) if parts[0] == "apis" else parts[1] if len(parts) > 1 else ""


def _configuration() -> k8s.Configuration:
    """No urllib3 retries: an unreachable server is reported once, by kfunc, not after three retry warnings."""
    configuration = k8s.Configuration()
    configuration.retries = False
    return configuration


class Kube:
    """Reads, applies, dry-runs and deletes objects through one ``ApiClient``."""

    def __init__(self, api_client: k8s.ApiClient, default_namespace: str = "default") -> None:
        self.api_client = api_client
        self.default_namespace = default_namespace

    @classmethod
    def connect(cls, kubeconfig: str | None = None, context: str | None = None) -> "Kube":
        """From a kubeconfig (``--kubeconfig``/``$KUBECONFIG``/``~/.kube/config``) or, inside a pod, in-cluster config."""
        if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            configuration = _configuration()
            k8s_config.load_incluster_config(client_configuration=configuration)
            namespace_file = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
            namespace = namespace_file.read_text().strip() if namespace_file.exists() else "default"
            return cls(k8s.ApiClient(configuration), namespace)
        try:
            configuration = _configuration()
            k8s_config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
            api_client = k8s.ApiClient(configuration)
            contexts, current = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
        except (ConfigException, OSError) as exc:
            raise ConfigError(f"cannot load kubeconfig: {exc}; pass --kubeconfig/--context, "
                            "or run scripts/cluster-up.sh") from None
        chosen = next((c for c in contexts if c["name"] == context), current) if context else current
        namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
        return cls(api_client, namespace)

    @classmethod
    def for_host(cls, host: str) -> "Kube":
        """A client for an API server at ``host`` with no credentials (a local proxy or a test server)."""
        configuration = _configuration()
        configuration.host = host
        return cls(k8s.ApiClient(configuration))

    def _request(self, action: str, method: str, path: str, query: dict | None = None, body: dict | None = None,
                 content_type: str | None = None, missing_ok: bool = False) -> dict | None:
        """The parsed JSON answer; None for a 404 when ``missing_ok``."""
        headers = {"Accept": "application/json", **({"Content-Type": content_type} if content_type else {})}
        params = [(key, value) for key, value in (query or {}).items() if value is not None]
        request = self.api_client.param_serialize(method, path, query_params=params, header_params=headers,
                                                  body=body, auth_settings=["BearerToken"])
        try:
            response = self.api_client.call_api(*request)
            data = response.read()
        except ApiException as exc:  # the client's wrapping of TLS failures
            raise _refusal(action, exc.status, exc.body, exc.reason, path) from None
        except urllib3.exceptions.HTTPError as exc:
            cause = getattr(exc, "reason", None) or exc
            raise KubeError(f"{action}: cannot reach the API server at {self.api_client.configuration.host} ({cause}); "
                            "is the cluster up? check --context/--kubeconfig (kubectl cluster-info)") from None
        if response.status == 404 and missing_ok:
            return None
        if not 200 <= response.status <= 299:
            raise _refusal(action, response.status, data, response.reason, path)
        return json.loads(data or b"{}")

    def get_configmap(self, namespace: str, name: str) -> dict[str, str] | None:
        """The ConfigMap's ``data``, or None when it does not exist."""
        configmap = self.get("v1", "ConfigMap", namespace, name)
        return None if configmap is None else configmap.get("data") or {}

    def list_crds(self) -> list[dict]:
        """Every CustomResourceDefinition in the cluster, as plain dicts (to read their schemas)."""
        return self._request("list CustomResourceDefinitions", "GET", CRDS_PATH).get("items") or []

    def get_path(self, path: str, action: str) -> dict | None:
        """Any JSON document the API server serves (``/openapi/v3``...), or None when it answers 404."""
        return self._request(action, "GET", path, missing_ok=True)

    def apply(self, obj: dict, dry_run: bool = False, field_manager: str = FIELD_MANAGER, force: bool = True) -> dict:
        """Server-side apply; ``force`` takes over fields other managers own (else a conflict is a 409);
        ``dry_run`` validates without storing."""
        metadata = obj["metadata"]
        action = f"{'dry-run ' if dry_run else ''}apply {obj['kind']}/{metadata['name']}"
        path = resource_path(obj["apiVersion"], obj["kind"], metadata["namespace"], metadata["name"])
        query = {"fieldManager": field_manager, "force": "true" if force else None, "dryRun": "All" if dry_run else None}
        try:
            return self._request(action, "PATCH", path, query, obj, APPLY_CONTENT_TYPE)
        except KubeError as exc:
            if exc.http_status == 404 and "is not installed" not in str(exc):  # the group is served, the kind is not
                raise KubeError(f"{exc}; the cluster serves no {obj['kind']} in {obj['apiVersion']}: "
                                "install its CRD or pick another --context", 404) from None
            raise

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict | None:
        """The object (with status), or None when it does not exist."""
        return self._request(f"get {kind}/{name}", "GET", resource_path(api_version, kind, namespace, name), missing_ok=True)

    def list_labeled(self, api_version: str, kind: str, namespace: str, label_selector: str) -> list[dict]:
        """Objects of a kind matching ``label_selector``; an uninstalled kind lists nothing.

        Each carries its apiVersion and kind, which the API server leaves off the list items of
        built-in kinds (kubernetes/kubernetes#3030).
        """
        body = self._request(f"list {plural_of(kind)}", "GET", resource_path(api_version, kind, namespace),
                             {"labelSelector": label_selector}, missing_ok=True)
        return [{"apiVersion": api_version, "kind": kind, **item} for item in (body or {}).get("items") or []]

    def delete(self, api_version: str, kind: str, namespace: str, name: str) -> bool:
        """Delete one object and, in the background, what it owns; False when it was not there.

        The propagation policy is explicit because a batch/v1 Job deleted without one orphans its pods.
        """
        path = resource_path(api_version, kind, namespace, name)
        query = {"propagationPolicy": "Background"}
        return self._request(f"delete {kind}/{name}", "DELETE", path, query, missing_ok=True) is not None
