"""The gRPC Open Inference Protocol service (``inference.GRPCInferenceService``) and ``grpc.health.v1``
health, for the served function, independent of the transport.

Both transports (``grpc_asgi`` on the REST port, ``grpc_aio`` on ``--grpc-port``) call these
methods and turn a raised ``RpcError`` into their own status. ``ModelInfer`` runs its whole
blocking part (decode, the handler, encode) on the handler pool (``blocking.call``), inside
``function.expecting()`` so a batching predictor may wait for it, and is counted in the request
metrics as protocol ``grpc`` with the HTTP status its error maps to.
"""
from __future__ import annotations

import logging
from contextlib import nullcontext
from importlib.metadata import PackageNotFoundError, version
from typing import Any, ContextManager, Mapping

from opentelemetry import trace

from .. import metrics, payload_log, telemetry, timing
from ..binding import bind_tensors, output_tensors
from ..context import Context
from ..errors import KFuncError, ModelNotFound
from ..function import Function
from ..registry import ModelEntry
from ..protocol import grpc_codec
from ..protocol.jsonutil import dumps
from ..protocol.grpc_gen import open_inference_grpc_pb2 as pb
from . import blocking
from .body import request_id_from
from .models import served_model

log = logging.getLogger("kfunc")
tracer = trace.get_tracer("kfunc")

SERVICE = "inference.GRPCInferenceService"
HEALTH_SERVICE = "grpc.health.v1.Health"
PROTO_TYPE = "application/x-protobuf; messageType=inference.{}"  # payload-log content type of a message
SERVING, NOT_SERVING = 1, 2  # grpc.health.v1.HealthCheckResponse.ServingStatus

# KFuncError HTTP status -> gRPC status code name (the names grpc.StatusCode and connectrpc's Code share).
_CODES = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 413: "RESOURCE_EXHAUSTED", 415: "INVALID_ARGUMENT",
          503: "UNAVAILABLE", 502: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


class RpcError(Exception):
    """A gRPC error status: ``code`` is a status code name (``"NOT_FOUND"``), ``http_status`` what REST would say."""

    def __init__(self, code: str, message: str, http_status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status


def rpc_error(exc: Exception, request_id: str) -> RpcError:
    """The status for an exception: a KFuncError's own message; anything else is the handler's failure
    (INTERNAL with its type and message; the stack trace goes to the log only)."""
    if isinstance(exc, KFuncError):
        if exc.status >= 500:
            log.warning("request %s failed: %s", request_id, exc)
        return RpcError(_CODES.get(exc.status, "INTERNAL"), str(exc), exc.status)
    log.error("request %s: handler failed", request_id, exc_info=exc)
    return RpcError("INTERNAL", f"{type(exc).__name__}: {exc}", 500)


def _kfunc_version() -> str:
    try:
        return version("kfunc")
    except PackageNotFoundError:
        return "0"


class InferenceService:
    """The service's methods; ``metadata`` in ``model_infer`` is the call's (lower-case) metadata."""

    def __init__(self, function: Function) -> None:
        self.function = function
        self.max_message = int(function.config.runtime.max_body_mb * 1024 * 1024)  # runtime.max-body-mb

    async def server_live(self, request: pb.ServerLiveRequest) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    async def server_ready(self, request: pb.ServerReadyRequest) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self.function.ready)

    async def model_ready(self, request: pb.ModelReadyRequest) -> pb.ModelReadyResponse:
        return pb.ModelReadyResponse(ready=self._model(request.name, request.version).ready)

    async def server_metadata(self, request: pb.ServerMetadataRequest) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(name="kfunc", version=_kfunc_version(), extensions=["binary_tensor_data"])

    async def model_metadata(self, request: pb.ModelMetadataRequest) -> pb.ModelMetadataResponse:
        meta = self.function.metadata(self._model(request.name, request.version))
        tensors = {kind: [pb.ModelMetadataResponse.TensorMetadata(**t) for t in meta.get(kind, [])]
                   for kind in ("inputs", "outputs")}
        properties = {k: str(v) for k, v in meta.get("parameters", {}).items()}
        return pb.ModelMetadataResponse(name=meta["name"], versions=meta.get("versions", []),
                                        platform=meta.get("platform") or "", properties=properties, **tensors)

    async def model_infer(self, request: pb.ModelInferRequest, metadata: Mapping[str, str]) -> pb.ModelInferResponse:
        """Raises RpcError; records the request in the metrics either way."""
        return await blocking.call(self._infer, request, metadata)

    def health(self, service: str) -> int:
        """The serving status of ``service`` ("" is the whole server); RpcError NOT_FOUND for another."""
        if service not in ("", SERVICE, HEALTH_SERVICE):
            raise RpcError("NOT_FOUND", f"unknown service {service!r}; this server has {SERVICE!r}", 404)
        return SERVING if self.function.ready or service == HEALTH_SERVICE else NOT_SERVING

    def _model(self, name: str, version: str) -> ModelEntry:
        try:
            return served_model(self.function, name, version or None)
        except ModelNotFound as exc:
            raise RpcError("NOT_FOUND", str(exc), 404) from None

    def _infer(self, request: pb.ModelInferRequest, metadata: Mapping[str, str]) -> pb.ModelInferResponse:
        timer = timing.start()
        request_id = request.id or request_id_from(metadata.get("x-request-id"))
        status = 200
        answer: pb.ModelInferResponse | RpcError | None = None
        trace_parent = None
        try:
            with self.function.expecting(), _trace_context(metadata):
                trace_parent = telemetry.current_traceparent() if telemetry.recording() else None
                try:
                    answer = self._answer(request, request_id, metadata, timer)
                    return answer
                except Exception as exc:
                    answer = error = rpc_error(exc, request_id)
                    status = error.http_status
                    if telemetry.recording() and status >= 500:
                        span = trace.get_current_span()
                        span.set_status(trace.Status(trace.StatusCode.ERROR, error.code))
                        if not isinstance(exc, KFuncError):
                            span.record_exception(exc)
                    raise error from None
        finally:
            timing.stop()
            latency = metrics.record_request("grpc", "v2", status, timer)
            logger = payload_log.current()
            if logger is not None and logger.sampled():
                _log_payload(logger, request, metadata, request_id, status, answer, latency, trace_parent)

    def _answer(self, message: pb.ModelInferRequest, request_id: str, metadata: Mapping[str, str],
                timer: timing.RequestTimer) -> pb.ModelInferResponse:
        function = self.function
        model = served_model(function, message.model_name, message.model_version or None)
        function.check_ready()
        request, raw = grpc_codec.decode_request(message)
        context = Context(request_id=request_id, protocol="grpc", headers=metadata, model_name=model.name,
                          model_version=model.version, parameters=dict(request.parameters))
        data = bind_tensors(request.inputs, function.inputs)
        timer.parsed()
        result = function.infer(data, context)
        timer.inferred()
        return grpc_codec.encode_response(model.name, model.version, request,
                                          output_tensors(result, function.outputs), raw)


def _log_payload(logger: payload_log.PayloadLogger, request: pb.ModelInferRequest, metadata: Mapping[str, str],
                 request_id: str, status: int, answer: pb.ModelInferResponse | RpcError | None, latency: float,
                 trace_parent: str | None) -> None:
    """Queue the call's payload-log events: the messages' protobuf bytes, or the error as JSON."""
    if isinstance(answer, pb.ModelInferResponse):
        reply, reply_type = answer.SerializeToString(), PROTO_TYPE.format("ModelInferResponse")
    else:
        message = answer.message if answer is not None else "no answer"
        reply, reply_type = dumps({"error": message, "code": answer.code if answer else "UNKNOWN"}), "application/json"

    def header(name: str) -> str | None:
        return PROTO_TYPE.format("ModelInferRequest") if name == "content-type" else metadata.get(name)

    logger.queue_events(logger.events(header, request_id, request.SerializeToString(), status, reply, reply_type,
                                      None, latency, trace_parent))


def _trace_context(metadata: Mapping[str, str]) -> ContextManager[Any]:
    """A server span when tracing records; else the caller's trace context, if it sent one."""
    if telemetry.recording():
        return tracer.start_as_current_span(f"{SERVICE}/ModelInfer", kind=trace.SpanKind.SERVER,
                                            context=telemetry.extract(metadata))
    if "traceparent" in metadata:
        return telemetry.propagated(metadata)
    return nullcontext()
