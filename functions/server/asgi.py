"""The ASGI app serving one function: one route table and one dispatch for every protocol.

Every request is matched once against ``routes.ROUTES``. A match has its body received on the
event loop (within the size limit and the body-read timeout), then its handler runs on the
handler pool, or inline when measured safe (``blocking.Offload``), and its reply (JSON errors
included, ``X-Request-Id`` echoed) goes back whole or streamed. gRPC requests (HTTP/2,
``application/grpc``) go to the gRPC app; paths no route serves go to the function's own flask
routes (``functions.routes``), else 404.
"""
from __future__ import annotations

import asyncio
import os
from contextlib import nullcontext
from typing import Awaitable, Callable, ContextManager

from opentelemetry import trace

from .. import metrics, payload_log, telemetry, timing
from ..errors import KFuncError, MethodNotAllowed, RouteNotFound
from ..function import Function
from ..protocol.binary import HEADER_LENGTH
from . import blocking, routes, streaming
from .body import ClientGone, receive_body, request_id_from
from .common import error_answer, plain_error
from .exchange import Exchange, Reply, json_reply
from .model_hold import held_model, with_load_timing

tracer = trace.get_tracer("kfunc")
ASGIApp = Callable[[dict, Callable, Callable], Awaitable[None]]
INLINE_BUDGET_ENV = "KFUNC_INLINE_BUDGET_MS"
_HEADER_LENGTH = HEADER_LENGTH.lower()
LISTING_ROUTES = frozenset({"/v1/models", "/v2/repository/index", "/v2/repository/models/<name>/load",
                            "/v2/repository/models/<name>/unload"})  # may list the repository again
_NOT_FOUND = "{method} {path}: not found; this server answers GET /v2 (Open Inference Protocol), GET /v1/models (KServe V1) or POST / (CloudEvents)"
_NOT_FOUND_OPENAI = ("{method} {path}: not found; the OpenAI API here serves POST /openai/v1/completions, "
                     "/chat/completions and /embeddings, GET /openai/v1/models")
_NOT_ALLOWED = "method {method} is not allowed for {path}; allowed: {allowed}"


class KFuncApp:
    """ASGI app for ``function``; ``user_app`` serves the function's own routes."""

    def __init__(self, function: Function, *, user_app: ASGIApp | None = None) -> None:
        self.function = function
        self._grpc: ASGIApp | None = None
        self.user_app = user_app
        self.max_body = int(function.config.runtime.max_body_mb * 1024 * 1024)
        self.offload = blocking.Offload(float(os.environ.get(INLINE_BUDGET_ENV, "1")) / 1000)
        self.may_inline = _may_inline(function)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return  # lifespan is off; websockets are not served
        if _is_grpc(scope):
            await self._grpc_app()(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        found = routes.match(method, path)
        if found is None:
            if self.user_app is not None and not routes.reserved(path):
                await self.user_app(scope, receive, _echoing_request_id(send, _request_id(scope)))
                return
            await _send(send, _not_found(method, path), _request_id(scope))
        elif found.route is None:
            await _send(send, _other_method(method, path, found.allowed), _request_id(scope))
        else:
            await self._serve(found.route, found.params, scope, receive, send)

    def _grpc_app(self) -> ASGIApp:
        """The gRPC app, imported with its protobuf modules on the first gRPC request (not at start)."""
        if self._grpc is None:
            from .grpc_asgi import GrpcApp
            self._grpc = GrpcApp(self.function)
        return self._grpc

    async def _serve(self, route: routes.Route, params: dict[str, str], scope: dict,
                     receive: Callable, send: Callable) -> None:
        timer = timing.start()
        exchange = Exchange(scope, b"", self.max_body, route.protocol or "http", timer)
        try:
            if route.method == "POST":
                exchange.raw_body = await receive_body(receive, _content_length(exchange), self.max_body)
            key, inline = self._offload_key(route, params)
            hold, loading_s = await self._model_held(route, params)
            with hold:
                reply = await self.offload.run(key, lambda: self._answer(route, exchange, params), inline)
                if reply.later is not None:
                    reply = await _awaited(reply.later, route, exchange.request_id, receive)
            reply = with_load_timing(reply, loading_s)
        except ClientGone:
            return
        except KFuncError as exc:
            reply = _error_reply(exc, exchange.request_id, route)
        finally:
            timing.stop()
        logger = payload_log.current() if route.protocol is not None else None
        if logger is not None and not logger.sampled():
            logger = None
        sent = None
        if reply.stream is not None:
            sent = await _send_streamed(send, receive, reply, exchange.request_id, logger)
        else:
            await _send(send, reply, exchange.request_id)
        if route.protocol is not None:
            latency = metrics.record_request(_transport(scope), exchange.protocol, reply.status, timer)
            if logger is not None:
                await _log_payload(logger, exchange, reply, latency, sent)

    def _offload_key(self, route: routes.Route, params: dict[str, str]) -> tuple[str, bool]:
        """What ``Offload`` measures the call under, and whether it may run inline: per model for a
        multi-model function's inference (its model is loaded and held by then: ``_model_held``);
        the repository routes never run inline (listing the repository again, or a load, is slow)."""
        if self.function.multi_model and route.rule in LISTING_ROUTES:
            return route.rule, False
        if not self._names_model(route, params):
            return route.rule, self.may_inline
        return f"{route.rule} {params['name']}", self.may_inline

    def _names_model(self, route: routes.Route, params: dict[str, str]) -> bool:
        return route.inference and self.function.multi_model and "name" in params

    async def _model_held(self, route: routes.Route, params: dict[str, str]) -> tuple[ContextManager[None], float]:
        """A multi-model inference's hold on its model, loaded off the handler pool if need be, and
        the seconds it waited for the load (``held_model``)."""
        if not self._names_model(route, params):
            return nullcontext(), 0.0
        return await held_model(self.function.registry, params["name"], params.get("version"))

    def _answer(self, route: routes.Route, exchange: Exchange, params: dict[str, str]) -> Reply:
        """The route's reply, errors answered as JSON; in a span when tracing records."""
        with self.function.expecting() if route.inference else nullcontext():
            if telemetry.recording():
                return self._in_span(route, exchange, params)
            if exchange.header(telemetry.TRACEPARENT) is not None:
                with telemetry.propagated(exchange.headers):
                    return _call(route, exchange, self.function, params, None)
            return _call(route, exchange, self.function, params, None)

    def _in_span(self, route: routes.Route, exchange: Exchange, params: dict[str, str]) -> Reply:
        with tracer.start_as_current_span(f"{route.method} {route.rule}", kind=trace.SpanKind.SERVER,
                                          context=telemetry.extract(exchange.headers)) as span:
            span.set_attribute("http.request.method", route.method)
            span.set_attribute("http.route", route.rule)
            span.set_attribute("kfunc.request_id", exchange.request_id)
            exchange.trace_parent = telemetry.current_traceparent()
            reply = _call(route, exchange, self.function, params, span)
            span.set_attribute("http.response.status_code", reply.status)
            if reply.status >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            return reply


async def _send_streamed(send: Callable, receive: Callable, reply: Reply, request_id: str,
                         logger: payload_log.PayloadLogger | None) -> streaming.Recorder | None:
    """Stream the reply until it ends or the client leaves; with a ``logger``, what was sent of it
    (up to its ``max_event_bytes``), else None (nothing kept)."""
    await _send_start(send, reply, request_id, streamed=True)
    recorder = streaming.Recorder(send, logger.max_event_bytes) if logger is not None else None
    try:
        await streaming.send_stream(reply, recorder or send, receive)
        await send({"type": "http.response.body", "body": b""})
    except OSError:  # a send to a client that has gone (ASGI 2.4; HTTP/2): the answer is over
        pass
    return recorder


async def _log_payload(logger: payload_log.PayloadLogger, exchange: Exchange, reply: Reply, latency: float,
                       sent: streaming.Recorder | None = None) -> None:
    """Queue the answered request's payload-log events (an ``on-full: block`` wait on the pool);
    a streamed reply's response event carries what ``sent`` kept of it."""
    reply_headers = {name.lower(): value for name, value in reply.headers.items()}
    body = sent.body if sent is not None else reply.body
    events = logger.events(exchange.header, exchange.request_id, exchange.logged_body(), reply.status, body,
                           reply_headers.get("content-type", ""), reply_headers.get(_HEADER_LENGTH), latency,
                           exchange.trace_parent, streamed=sent is not None,
                           truncated=sent is not None and sent.truncated)
    if logger.blocks:
        await blocking.call(logger.queue_events, events)
    else:
        logger.queue_events(events)


def _call(route: routes.Route, exchange: Exchange, function: Function, params: dict[str, str],
          span: trace.Span | None) -> Reply:
    try:
        return route.handler(exchange, function, **params)
    except Exception as exc:
        if span is not None and not isinstance(exc, KFuncError):
            span.record_exception(exc)
        return _error_reply(exc, exchange.request_id, route)


async def _awaited(later: Awaitable[Reply], route: routes.Route, request_id: str, receive: Callable) -> Reply:
    """A deferred reply, awaited on the loop; its failure answered as any route's. A client that
    leaves first cancels it (a generation stops) and gets nothing (ClientGone)."""
    answer = asyncio.ensure_future(later)
    gone = asyncio.ensure_future(streaming.disconnected(receive))
    try:
        await asyncio.wait({answer, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if not answer.done():
        answer.cancel()
        raise ClientGone()
    try:
        return answer.result()
    except Exception as exc:
        return _error_reply(exc, request_id, route)


def _error_reply(exc: Exception, request_id: str, route: routes.Route | None = None) -> Reply:
    status, message = error_answer(exc, request_id)
    shape = route.error_shape if route is not None else plain_error
    reply = json_reply(shape(status, message, exc), status)
    if isinstance(exc, KFuncError):
        reply.headers.update(exc.headers())
    return reply


def _may_inline(function: Function) -> bool:
    """Whether the function's handlers may ever run on the loop: none of them waits on others."""
    handlers = function.handlers
    waits = (function.batching is not None or function.remote_predict is not None
             or any(h is not None and h.is_async for h in (handlers.predict, handlers.preprocess,
                                                           handlers.postprocess, handlers.explain)))
    return not waits


def _not_found(method: str, path: str) -> Reply:
    """404 in the error shape of the path's API."""
    message = (_NOT_FOUND_OPENAI if routes.reserved(path) else _NOT_FOUND).format(method=method, path=path)
    return _path_error(RouteNotFound(message), path)


def _other_method(method: str, path: str, allowed: tuple[str, ...]) -> Reply:
    """The OPTIONS answer, or 405 (with ``Allow``) in the error shape of the path's API."""
    allow = ", ".join(allowed)
    if method == "OPTIONS":
        return Reply(b"", {"Content-Type": "application/json", "Allow": allow})
    message = _NOT_ALLOWED.format(method=method, path=path, allowed=allow)
    return _path_error(MethodNotAllowed(message, allowed), path)


def _path_error(exc: KFuncError, path: str) -> Reply:
    reply = json_reply(routes.error_shape(path)(exc.status, str(exc), exc), exc.status)
    reply.headers.update(exc.headers())
    return reply


def _is_grpc(scope: dict) -> bool:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return value.startswith(b"application/grpc")
    return False


def _transport(scope: dict) -> str:
    return "h2" if scope.get("http_version") == "2" else "http1"


def _content_length(exchange: Exchange) -> int | None:
    value = exchange.header("content-length")
    return int(value) if value is not None else None  # the server has checked its syntax


def _request_id(scope: dict) -> str:
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            return value.decode("latin-1")
    return request_id_from(None)


def _echoing_request_id(send: Callable, request_id: str) -> Callable:
    """``send`` for the function's own routes, their answers carrying ``X-Request-Id`` like every other."""
    async def send_with_id(message: dict) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), _request_id_header(request_id)]}
        await send(message)
    return send_with_id


def _headers(reply: Reply, request_id: str) -> list[tuple[bytes, bytes]]:
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers.items()]
    headers.append(_request_id_header(request_id))
    return headers


def _request_id_header(request_id: str) -> tuple[bytes, bytes]:
    return b"x-request-id", request_id.encode("latin-1")


async def _send_start(send: Callable, reply: Reply, request_id: str, streamed: bool = False) -> None:
    headers = _headers(reply, request_id)
    if not streamed:
        headers.append((b"content-length", str(len(reply.body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})


async def _send(send: Callable, reply: Reply, request_id: str) -> None:
    await _send_start(send, reply, request_id)
    await send({"type": "http.response.body", "body": reply.body})

