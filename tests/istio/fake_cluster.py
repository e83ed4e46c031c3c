"""The deploy tests' fake API server, also serving the core Services kfunc traffic applies (ExternalName)."""
from __future__ import annotations

import copy
import json
import re

from tests.knative.fake_apiserver import FakeApiServer, _status

_CORE_SERVICE = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/services/(?P<name>[^/]+)$")


class FakeCluster(FakeApiServer):
    """``core_services[(namespace, name)]`` holds applied core Services."""

    def __init__(self, crds: list[dict] | None = None) -> None:
        super().__init__(ready_after=0.0, crds=crds)
        self.core_services: dict[tuple[str, str], dict] = {}

    def _route(self, method: str, path: str, query: dict, headers, body: bytes) -> tuple[int, dict]:
        match = _CORE_SERVICE.match(path)
        if not match:
            return super()._route(method, path, query, headers, body)
        key = (match["ns"], match["name"])
        if method == "PATCH":
            if headers.get("Content-Type") != "application/apply-patch+yaml" or not query.get("fieldManager"):
                return _status(422, "Invalid", "server-side apply needs the apply content type and a fieldManager")
            obj = json.loads(body)
            if query.get("dryRun") != "All":
                self.core_services[key] = copy.deepcopy(obj)
            return 200, obj
        if method == "GET" and key in self.core_services:
            return 200, self.core_services[key]
        return _status(404, "NotFound", f'services "{key[1]}" not found')

    def stored(self, group: str, plural: str, namespace: str, name: str) -> dict | None:
        return self.objects.get((group, plural, namespace, name))

    def virtual_service(self, name: str = "fn", namespace: str = "ml") -> dict | None:
        return self.stored("networking.istio.io", "virtualservices", namespace, name)
