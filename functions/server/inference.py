"""The WSGI entry point: inference routes straight from the environ, everything else through flask.

``POST /v2/models/<name>[/versions/<version>]/infer``, ``/v1/models/<name>:predict`` and
``:explain``, and ``POST /`` are served here with the same answers flask would give (JSON
errors, ``X-Request-Id`` echoed, 405 with ``Allow`` for another method, 200 for ``OPTIONS``),
counted in the request metrics, traced when tracing records. Other paths go to flask.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Callable, Iterable

from opentelemetry import trace
from opentelemetry.trace import Span

from .. import metrics, telemetry, timing
from ..errors import KFuncError
from ..function import Function
from ..protocol.jsonutil import dumps
from . import events, v1, v2
from .common import error_answer
from .exchange import Exchange, Reply, json_reply

tracer = trace.get_tracer("kfunc")
WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
_ALLOW = "OPTIONS, POST"
_NOT_ALLOWED = "The method is not allowed for the requested URL."  # werkzeug's words, as the other routes say it


@dataclass(frozen=True)
class Route:
    """A POST route of the fast path: its pattern, its rule as flask would write it, its handler."""

    pattern: re.Pattern[str]
    rule: str
    handler: Callable[..., Reply]
    protocol: str
    batched: bool = True  # runs the predictor: a batching one may wait for it


ROUTES = (
    Route(re.compile(r"/v2/models/(?P<name>[^/]+)/infer"), "/v2/models/<name>/infer", v2.infer, "v2"),
    Route(re.compile(r"/v2/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/infer"),
          "/v2/models/<name>/versions/<version>/infer", v2.infer, "v2"),
    Route(re.compile(r"/v1/models/(?P<name>[^/]+):predict"), "/v1/models/<name>:predict", v1.predict, "v1"),
    Route(re.compile(r"/v1/models/(?P<name>[^/]+):explain"), "/v1/models/<name>:explain", v1.explain, "v1",
          batched=False),
    Route(re.compile(r"/"), "/", events.invoke, "http"),
)


class InferenceServer:
    """WSGI app: the fast path for ``ROUTES``, ``fallback`` (the flask app) for everything else."""

    def __init__(self, function: Function, fallback: WSGIApp, max_body: int) -> None:
        self.function = function
        self.fallback = fallback
        self.max_body = max_body

    @staticmethod
    def serves(path: str) -> bool:
        """Whether ``path`` is one of the fast path's routes."""
        return any(route.pattern.fullmatch(path) for route in ROUTES)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if not path.isascii():
            path = path.encode("latin-1").decode("utf-8", "replace")  # what werkzeug matches on
        for route in ROUTES:
            match = route.pattern.fullmatch(path)
            if match is not None:
                break
        else:
            return self.fallback(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        timer = timing.start()
        exchange = Exchange(environ, self.max_body, route.protocol, timer)
        try:
            if method == "POST":
                reply = self._serve(route, exchange, {k: v for k, v in match.groupdict().items() if v is not None})
            else:
                reply = _other_method(method)
        finally:
            timing.stop()
        headers = [*reply.headers.items(), ("Content-Length", str(len(reply.body))),
                   ("X-Request-Id", exchange.request_id)]
        start_response(_status_line(reply.status), headers)
        if method == "POST":
            metrics.record_request(exchange.protocol, reply.status, timer)
        return [reply.body]

    def _serve(self, route: Route, exchange: Exchange, params: dict[str, str]) -> Reply:
        if route.batched:
            with self.function.expecting():
                return self._traced(route, exchange, params)
        return self._traced(route, exchange, params)

    def _traced(self, route: Route, exchange: Exchange, params: dict[str, str]) -> Reply:
        if telemetry.recording():
            return self._in_span(route, exchange, params)
        if telemetry.TRACEPARENT_ENVIRON in exchange.environ:
            with telemetry.propagated(exchange.headers):
                return self._answer(route, exchange, params, None)
        return self._answer(route, exchange, params, None)

    def _in_span(self, route: Route, exchange: Exchange, params: dict[str, str]) -> Reply:
        with tracer.start_as_current_span(f"POST {route.rule}", kind=trace.SpanKind.SERVER,
                                          context=telemetry.extract(exchange.headers)) as span:
            span.set_attribute("http.request.method", "POST")
            span.set_attribute("http.route", route.rule)
            span.set_attribute("kfunc.request_id", exchange.request_id)
            reply = self._answer(route, exchange, params, span)
            span.set_attribute("http.response.status_code", reply.status)
            if reply.status >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            return reply

    def _answer(self, route: Route, exchange: Exchange, params: dict[str, str], span: Span | None) -> Reply:
        try:
            return route.handler(exchange, self.function, **params)
        except Exception as exc:
            if span is not None and not isinstance(exc, KFuncError):
                span.record_exception(exc)
            status, body = error_answer(exc, exchange.request_id)
            return json_reply(body, status)


def _other_method(method: str) -> Reply:
    if method == "OPTIONS":
        return Reply(b"", {"Content-Type": "text/html; charset=utf-8", "Allow": _ALLOW})
    return Reply(dumps({"error": _NOT_ALLOWED}), {"Content-Type": "application/json", "Allow": _ALLOW}, 405)


_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def _status_line(status: int) -> str:
    return _STATUS_LINES.get(status) or f"{status} UNKNOWN"
