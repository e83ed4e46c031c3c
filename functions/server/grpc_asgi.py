"""gRPC on the REST port: an ASGI app serving ``grpc_service`` with connectrpc's server.

connectrpc (``ConnectASGIApplication``) implements the gRPC wire protocol on ASGI: message
framing, ``grpc-status``/``grpc-message`` trailers (the ASGI ``http.response.trailers``
extension, which gunicorn 27's ``asgi`` worker offers on HTTP/2), deadlines, compression.
kfunc's messages are the google.protobuf ``_pb2`` classes, hence the ``connectrpc.compat``
codecs; reflection (``grpc.reflection.v1`` and ``v1alpha``) is ``connectrpc-grpcreflect``, fed
with protobuf-py descriptors of the same protos. The app expects HTTP requests whose
Content-Type starts with ``application/grpc``, on HTTP/2 (the ASGI server must offer trailers).
"""
from __future__ import annotations

from typing import Any, AsyncIterator, Awaitable, Callable

from connectrpc.code import Code
from connectrpc.compat import google_protobuf_codecs
from connectrpc.errors import ConnectError
from connectrpc.method import IdempotencyLevel, MethodInfo, StreamType
from connectrpc.request import RequestContext
from connectrpc.server import ConnectASGIApplication, Endpoint
from connectrpc_grpcreflect import (ServerReflectionAlphaASGIApplication, ServerReflectionAlphaService,
                                    ServerReflectionASGIApplication, ServerReflectionService)
from grpc_health.v1 import health_pb2

from ..function import Function
from ..protocol.jsonutil import dumps
from ..protocol.grpc_gen import health_pb, open_inference_grpc_pb
from ..protocol.grpc_gen import open_inference_grpc_pb2 as pb
from .grpc_repository import METHODS as REPOSITORY_METHODS
from .grpc_repository import RepositoryService
from .grpc_service import HEALTH_SERVICE, SERVICE, InferenceService, RpcError

ASGIApp = Callable[[dict, Callable, Callable], Awaitable[None]]
CONTENT_TYPE = "application/grpc"  # and application/grpc+proto
TRAILERS = "http.response.trailers"  # the ASGI extension gRPC's status needs


class GrpcApp:
    """ASGI app for gRPC requests: the inference service, health checking and reflection."""

    def __init__(self, function: Function) -> None:
        service = InferenceService(function)
        descriptors = (open_inference_grpc_pb.desc(), health_pb.desc())
        endpoints = {**_inference_endpoints(service), **_repository_endpoints(RepositoryService(function))}
        self.apps: dict[str, ASGIApp] = {
            f"/{SERVICE}/": _Service(SERVICE, endpoints, service.max_message),
            f"/{HEALTH_SERVICE}/": _Service(HEALTH_SERVICE, _health_endpoints(service), service.max_message),
        }
        for app in (ServerReflectionASGIApplication(ServerReflectionService(*descriptors)),
                    ServerReflectionAlphaASGIApplication(ServerReflectionAlphaService(*descriptors))):
            self.apps[app.path + "/"] = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if TRAILERS not in scope.get("extensions", {}):
            await _needs_http2(scope, send)
            return
        path = scope.get("path", "")
        service = path[:path.rfind("/") + 1]
        app = self.apps.get(service) or self.apps[f"/{SERVICE}/"]  # its 404: grpc-status UNIMPLEMENTED
        await app(scope, receive, send)


async def _needs_http2(scope: dict, send: Callable) -> None:
    """400 with a JSON error: gRPC's status travels in trailers, which HTTP/1.1 answers here cannot carry."""
    body = dumps({"error": f"gRPC needs HTTP/2 (this request came over HTTP/{scope.get('http_version', '1.1')}): "
                           "connect with HTTP/2 prior knowledge (h2c), as gRPC clients do"})
    await send({"type": "http.response.start", "status": 400,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class _Service(ConnectASGIApplication[None]):
    """One service's endpoints (``/<service>/<Method>``), exchanging google.protobuf messages."""

    def __init__(self, name: str, endpoints: dict[str, Endpoint], max_message: int) -> None:
        self.name = name
        super().__init__(service=None, endpoints=lambda _: endpoints, codecs=google_protobuf_codecs(),
                         read_max_bytes=max_message)

    @property
    def path(self) -> str:
        return f"/{self.name}"


def _method(service: str, name: str, request: type, response: type,
            stream: StreamType = StreamType.UNARY) -> MethodInfo:
    return MethodInfo(name=name, service_name=service, input=request, output=response,
                      idempotency_level=IdempotencyLevel.UNKNOWN, stream_type=stream)


def _unary(service: str, name: str, request: type, response: type,
           call: Callable[[Any, RequestContext], Awaitable[Any]]) -> tuple[str, Endpoint]:
    async def function(message: Any, ctx: RequestContext) -> Any:
        try:
            return await call(message, ctx)
        except RpcError as exc:
            raise ConnectError(Code[exc.code], exc.message) from None

    return f"/{service}/{name}", Endpoint.unary(_method(service, name, request, response), function)


def _inference_endpoints(service: InferenceService) -> dict[str, Endpoint]:
    simple = {"ServerLive": service.server_live, "ServerReady": service.server_ready,
              "ModelReady": service.model_ready, "ServerMetadata": service.server_metadata,
              "ModelMetadata": service.model_metadata}

    async def infer(message: pb.ModelInferRequest, ctx: RequestContext) -> pb.ModelInferResponse:
        return await service.model_infer(message, ctx.request_headers)

    endpoints = [_unary(SERVICE, name, _message(f"{name}Request"), _message(f"{name}Response"),
                        lambda message, ctx, call=call: call(message)) for name, call in simple.items()]
    endpoints.append(_unary(SERVICE, "ModelInfer", pb.ModelInferRequest, pb.ModelInferResponse, infer))
    return dict(endpoints)


def _repository_endpoints(service: RepositoryService) -> dict[str, Endpoint]:
    calls = service.calls()
    return dict(_unary(SERVICE, name, request, response, lambda message, ctx, call=calls[name]: call(message))
                for name, (request, response) in REPOSITORY_METHODS.items())


def _message(name: str) -> type:
    return getattr(pb, name)


def _health_endpoints(service: InferenceService) -> dict[str, Endpoint]:
    async def check(message: health_pb2.HealthCheckRequest, ctx: RequestContext) -> health_pb2.HealthCheckResponse:
        return health_pb2.HealthCheckResponse(status=service.health(message.service))

    async def watch(message: health_pb2.HealthCheckRequest,
                    ctx: RequestContext) -> AsyncIterator[health_pb2.HealthCheckResponse]:
        try:
            status = service.health(message.service)
        except RpcError as exc:
            raise ConnectError(Code[exc.code], exc.message) from None
        yield health_pb2.HealthCheckResponse(status=status)  # the current status, once

    request, response = health_pb2.HealthCheckRequest, health_pb2.HealthCheckResponse
    return dict([
        _unary(HEALTH_SERVICE, "Check", request, response, check),
        (f"/{HEALTH_SERVICE}/Watch", Endpoint.server_stream(
            _method(HEALTH_SERVICE, "Watch", request, response, StreamType.SERVER_STREAM), watch)),
    ])
