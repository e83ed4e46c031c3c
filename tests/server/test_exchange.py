"""What a handler reads of its request through ``context.headers``: werkzeug's case-insensitive
``Headers``, as under flask, whether or not anything looked at them before."""
from __future__ import annotations

from functions import timing
from functions.server.exchange import Exchange

SCOPE = {"type": "http", "method": "POST", "path": "/", "headers": [
    (b"content-type", b"application/json"), (b"x-tenant", b"acme"), (b"x-tenant", b"beta")]}


def context():
    return Exchange(SCOPE, b"{}", 1024, "v2", timing.RequestTimer()).context("v2", "m")


def test_context_headers_read_like_flasks_request_headers():
    headers = context().headers
    assert headers.get("X-Tenant") == "acme" and headers["content-type"] == "application/json"
    assert "X-TENANT" in headers and "x-missing" not in headers
    assert headers.getlist("x-tenant") == ["acme", "beta"]
    assert list(headers) == [("content-type", "application/json"), ("x-tenant", "acme"), ("x-tenant", "beta")]
    assert len(headers) == 3 and dict(headers)["x-tenant"] == "acme"
