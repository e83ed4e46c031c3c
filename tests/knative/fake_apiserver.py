"""A small real Kubernetes API server over loopback HTTP, for the deploy path's tests.

It serves what kfunc's client calls: server-side apply (PATCH with ``fieldManager``, optional
``dryRun=All`` that stores nothing), GET/LIST/DELETE of namespaced objects, core (``/api/v1``)
and custom (``/apis/GROUP/VERSION``) alike, GET of the ConfigMaps in ``configmaps`` and the CRD
list. A stored Knative Service turns Ready ``ready_after`` seconds after each apply (or fails, for
names in ``failures``), with a Revision carrying the container's condition, as Knative would.
Likewise a Job completes (or fails, with a failed Pod carrying the reason) and a DaemonSet has a
ready pod on each of ``daemonset_nodes`` nodes; Deployments, HPAs and KEDA scalers behave as in
tests/knative/fake_workloads.py. List items of built-in kinds come without
apiVersion and kind, as from a real API server.

As a real API server does, it refuses a wrong bearer token (``token``) with a 401, serves only the built-in groups and those of ``crds`` (any other
group answers a plain-text ``404 page not found``), publishes the CRDs' schemas under
``/openapi/v3``, answers a strict apply's first unknown field with a 500, a changed Job pod
template with a 422, and a non-forced apply that changes another field manager's fields with a
409. With ``namespaces`` set, the user is bound to those namespaces only (a namespace ``edit``
RoleBinding): cluster-scoped and other namespaces' requests are refused with a 403.
"""
from __future__ import annotations

import copy
import functools
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import fake_openapi
from .fake_workloads import CONTROLLERS as WORKLOAD_CONTROLLERS

_OBJECTS = re.compile(r"^/(?:api|apis/(?P<group>[^/]+))/(?P<version>[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<plural>[^/]+)"
                      r"(?:/(?P<name>[^/]+))?$")
_CONFIGMAP = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/configmaps/(?P<name>[^/]+)$")
_CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
_BUILT_IN_GROUPS = ("", "apps", "batch", "autoscaling")


class FakeApiServer:
    """Objects live in ``objects[(group, plural, namespace, name)]`` (group "" for core objects);
    every request is logged in ``requests``, and ``applied_at[key]`` is when each was last applied."""

    def __init__(self, ready_after: float = 0.2, crds: list[dict] | None = None,
                 namespaces: set[str] | None = None, token: str | None = None) -> None:
        self.ready_after = ready_after
        self.token = token  # when set, any other bearer token is refused with a 401
        self.crds = crds or []
        self.namespaces = namespaces
        self.configmaps: dict[tuple[str, str], dict[str, str]] = {}
        self.objects: dict[tuple[str, str, str, str], dict] = {}
        self.failures: dict[str, tuple[str, str]] = {}
        self.refusals: dict[str, tuple[int, str]] = {}
        self.requests: list[dict] = []
        self.applied_at: dict[tuple, float] = {}
        self.daemonset_nodes = 2
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FakeApiServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, obj: dict, manager: str = "kfunc", owner: dict | None = None) -> dict:
        """Store ``obj`` as if ``manager`` had applied it (and, with ``owner``, a controller owns it)."""
        group = obj["apiVersion"].rpartition("/")[0]
        metadata = obj.setdefault("metadata", {})
        metadata.setdefault("namespace", "ml")
        metadata.update(uid=str(uuid.uuid4()), generation=1,
                        managedFields=[{"manager": manager, "operation": "Apply" if manager == "kfunc" else "Update"}])
        if owner:
            metadata["ownerReferences"] = [{"controller": True, **owner}]
        key = (group, obj["kind"].lower() + "s", metadata["namespace"], metadata["name"])
        self.objects[key] = obj
        self.applied_at[key] = time.monotonic()
        return obj

    # -- request handling -------------------------------------------------------------------

    def _handler_class(self) -> type:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append({"method": self.command, "path": parts.path, "query": query,
                                        "content_type": self.headers.get("Content-Type"),
                                        "authorization": self.headers.get("Authorization")})
                with server._lock:
                    status, payload = server._route(self.command, parts.path, query, self.headers, body)
                plain = isinstance(payload, bytes)
                data = payload if plain else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8" if plain else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PATCH = do_DELETE = _answer

        return Handler

    def _route(self, method: str, path: str, query: dict, headers, body: bytes) -> tuple[int, dict | bytes]:
        if self.token and headers.get("Authorization") != f"Bearer {self.token}":
            return _status(401, "Unauthorized", "Unauthorized")
        if method == "GET" and path == _CRDS:
            if self.namespaces is not None:
                return _forbidden("list", "customresourcedefinitions", "apiextensions.k8s.io", None)
            return 200, {"kind": "CustomResourceDefinitionList", "apiVersion": "apiextensions.k8s.io/v1", "items": self.crds}
        if method == "GET" and path.startswith("/openapi/v3"):
            return self._openapi(path)
        match = _OBJECTS.match(path)
        if match and self.namespaces is not None and match["ns"] not in self.namespaces:
            verb = {"GET": "get" if match["name"] else "list", "PATCH": "patch", "DELETE": "delete"}.get(method, method)
            return _forbidden(verb, match["plural"], match["group"] or "", match["ns"])
        if match and (match["group"] or "") not in _BUILT_IN_GROUPS and \
                f"{match['group']}/{match['version']}" not in fake_openapi.served_versions(self.crds):
            return 404, b"404 page not found\n"
        if match and (match["group"] or "") not in _BUILT_IN_GROUPS and \
                match["plural"] not in fake_openapi.served_versions(self.crds)[f"{match['group']}/{match['version']}"]:
            return _status(404, "NotFound", "the server could not find the requested resource")
        match = _CONFIGMAP.match(path)
        if match and method == "GET":
            data = self.configmaps.get((match["ns"], match["name"]))
            if data is None:
                return _status(404, "NotFound", f'configmaps "{match["name"]}" not found')
            return 200, {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": match["name"], "namespace": match["ns"]}, "data": data}
        match = _OBJECTS.match(path)
        if not match:
            return _status(404, "NotFound", f"the server could not find the requested resource ({path})")
        key = (match["group"] or "", match["plural"], match["ns"], match["name"])
        if method == "PATCH" and match["name"]:
            return self._apply(key, match["version"], query, headers, body)
        if method == "GET" and match["name"]:
            found = self.objects.get(key)
            return (200, self._observed(key)) if found else _status(404, "NotFound", f'{key[1]} "{key[3]}" not found')
        if method == "GET":
            return 200, {"kind": "List", "items": self._list(key, query.get("labelSelector", ""))}
        if method == "DELETE" and match["name"]:
            if self.objects.pop(key, None) is None:
                return _status(404, "NotFound", f'{key[1]} "{key[3]}" not found')
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}
        return _status(405, "MethodNotAllowed", f"{method} is not supported here")

    def _apply(self, key: tuple, version: str, query: dict, headers, body: bytes) -> tuple[int, dict]:
        if headers.get("Content-Type") != "application/apply-patch+yaml":
            return _status(415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {headers.get('Content-Type')}")
        if not query.get("fieldManager"):
            return _status(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
        obj = json.loads(body)
        if obj.get("metadata", {}).get("name") != key[3] or obj.get("apiVersion") != f"{key[0]}/{version}".lstrip("/"):
            return _status(400, "BadRequest", "the name or apiVersion of the object does not match the URL")
        if key[3] in self.refusals:
            code, message = self.refusals[key[3]]
            return _status(code, "Invalid", message)
        existing = self.objects.get(key)
        refused = self._strict(key, version, obj) or self._immutable(key, existing, obj) or \
            self._conflict(existing, obj, query)
        if refused:
            return refused
        stored = copy.deepcopy(existing) if existing else {"status": {}}
        metadata = stored.setdefault("metadata", {})
        spec_changed = existing is None or existing.get("spec") != obj.get("spec")
        stored.update({k: copy.deepcopy(v) for k, v in obj.items() if k != "metadata"})
        metadata.update(copy.deepcopy(obj["metadata"]))
        metadata.setdefault("uid", str(uuid.uuid4()))
        metadata["generation"] = metadata.get("generation", 0) + (1 if spec_changed else 0)
        others = [m for m in metadata.get("managedFields") or [] if m.get("manager") != query["fieldManager"]]
        metadata["managedFields"] = [*others, {"manager": query["fieldManager"], "operation": "Apply"}]
        if query.get("dryRun") == "All":
            return (200 if existing else 201), stored
        self.objects[key] = stored
        self.applied_at[key] = time.monotonic()
        return (200 if existing else 201), stored

    def _openapi(self, path: str) -> tuple[int, dict | bytes]:
        if path.rstrip("/") == "/openapi/v3":
            return 200, fake_openapi.index(self.crds)
        found = fake_openapi.document(self.crds, path.removeprefix("/openapi/v3/apis/"))
        return (200, found) if found else (404, b"404 page not found\n")

    def _strict(self, key: tuple, version: str, obj: dict) -> tuple[int, dict] | None:
        """A strict apply names only the first field the schema does not declare, in a 500."""
        crd = fake_openapi.served_versions(self.crds).get(f"{key[0]}/{version}", {}).get(key[1])
        unknown = crd and fake_openapi.first_unknown_field(obj, crd, version)
        if unknown:
            return _status(500, "InternalError", f"failed to create typed patch object ({key[2]}/{key[3]}; "
                           f"{key[0]}/{version}, Kind={obj.get('kind')}): {unknown}: field not declared in schema")
        return None

    @staticmethod
    def _immutable(key: tuple, existing: dict | None, obj: dict) -> tuple[int, dict] | None:
        if key[:2] != ("batch", "jobs") or existing is None:
            return None
        if (existing.get("spec") or {}).get("template") == (obj.get("spec") or {}).get("template"):
            return None
        return _status(422, "Invalid", f'Job.batch "{key[3]}" is invalid: spec.template: Invalid value: '
                       'core.PodTemplateSpec{ObjectMeta:v1.ObjectMeta{...}}: field is immutable')

    @staticmethod
    def _conflict(existing: dict | None, obj: dict, query: dict) -> tuple[int, dict] | None:
        """Without force, changing fields another manager set is a conflict (the whole spec stands for them here)."""
        if existing is None or query.get("force") == "true" or existing.get("spec") == obj.get("spec"):
            return None
        others = [m["manager"] for m in existing["metadata"].get("managedFields") or []
                  if m.get("manager") != query["fieldManager"] and m.get("subresource") != "status"]
        if not others:
            return None
        fields = sorted(k for k in {**existing.get("spec", {}), **obj.get("spec", {})}
                        if existing.get("spec", {}).get(k) != obj.get("spec", {}).get(k))
        lines = "\n".join(f'- conflict with "{others[0]}": .spec.{name}' for name in fields)
        return _status(409, "Conflict", f"Apply failed with {len(fields)} conflict(s): {lines}")

    def _list(self, key: tuple, selector: str) -> list[dict]:
        wanted = dict(part.split("=", 1) for part in selector.split(",") if "=" in part)
        found = []
        for stored_key in sorted(self.objects):
            if stored_key[:3] == key[:3]:
                labels = self.objects[stored_key]["metadata"].get("labels") or {}
                if all(labels.get(k) == v for k, v in wanted.items()):
                    item = self._observed(stored_key)
                    built_in = key[0] in _BUILT_IN_GROUPS
                    found.append({k: v for k, v in item.items() if k not in ("apiVersion", "kind")} if built_in else item)
        return found

    # -- what Knative's controllers would do ------------------------------------------------

    def _observed(self, key: tuple) -> dict:
        obj = self.objects[key]
        controllers = {("serving.knative.dev", "services"): self._reconcile, ("batch", "jobs"): self._run_job,
                       ("apps", "daemonsets"): self._roll_daemonset,
                       **{kind: functools.partial(control, self) for kind, control in WORKLOAD_CONTROLLERS.items()}}
        if key[:2] in controllers and time.monotonic() - self.applied_at.get(key, 0) >= self.ready_after:
            controllers[key[:2]](key, obj)
        return obj

    def _run_job(self, key: tuple, job: dict) -> None:
        _, _, namespace, name = key
        failure = self.failures.get(name)
        if not failure:
            job["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
            return
        reason, message = failure
        job["status"] = {"failed": 5, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                                      "message": "Job has reached the specified backoff limit"}]}
        pod = f"{name}-x7k2p"
        terminated = {"exitCode": 2, "reason": reason, "message": message}
        self.objects[("", "pods", namespace, pod)] = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod, "namespace": namespace, "labels": {"job-name": name},
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Failed", "containerStatuses": [{"name": "warm", "state": {"terminated": terminated}}]},
        }

    def _roll_daemonset(self, key: tuple, daemonset: dict) -> None:
        nodes = self.daemonset_nodes
        daemonset["status"] = {"observedGeneration": daemonset["metadata"]["generation"], "desiredNumberScheduled": nodes,
                               "updatedNumberScheduled": nodes, "numberReady": nodes}

    def _reconcile(self, key: tuple, service: dict) -> None:
        group, _, namespace, name = key
        generation = service["metadata"]["generation"]
        named = (((service.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("name")
        revision = named or f"{name}-{generation:05d}"  # a template that names its revision gets that name
        failure = self.failures.get(name)
        ready = {"type": "Ready", "status": "True"}
        container = {"type": "ContainerHealthy", "status": "True"}
        if failure:
            reason, message = failure
            ready = {"type": "Ready", "status": "False", "reason": "RevisionFailed",
                     "message": f'Revision "{revision}" failed with message: {message}.'}
            container = {"type": "ContainerHealthy", "status": "False", "reason": reason, "message": message}
        service["status"] = {
            "observedGeneration": generation, "conditions": [ready],
            "url": f"http://{name}.{namespace}.example.com", "latestCreatedRevisionName": revision,
            "latestReadyRevisionName": None if failure else revision,
            "traffic": [{"revisionName": revision, "latestRevision": True, "percent": 100}],
        }
        self.objects[(group, "revisions", namespace, revision)] = {
            "apiVersion": f"{group}/v1", "kind": "Revision", "metadata": {"name": revision, "namespace": namespace},
            "status": {"conditions": [dict(ready, message=ready.get("message", "")), container]},
        }


def _forbidden(verb: str, plural: str, group: str, namespace: str | None) -> tuple[int, dict]:
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    return _status(403, "Forbidden", f'{plural}{"." + group if group else ""} is forbidden: User "dev" cannot {verb} '
                   f'resource "{plural}" in API group "{group}" {where}')


def _status(code: int, reason: str, message: str) -> tuple[int, dict]:
    return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code}
