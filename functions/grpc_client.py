"""A blocking Open Inference Protocol gRPC client (grpcio), for the remote predictor and ``kfunc invoke``."""
from __future__ import annotations

from typing import Sequence

import grpc

from .errors import InvalidInput, KFuncError, ModelNotFound, ModelNotReady, RemotePredictorError
from .protocol.grpc_gen import open_inference_grpc_pb2 as pb
from .protocol.grpc_gen.open_inference_grpc_pb2_grpc import GRPCInferenceServiceStub

MAX_MESSAGE = 64 * 1024 * 1024
# gRPC status -> the KFuncError a caller passes on (else RemotePredictorError, 502).
_ERRORS = {grpc.StatusCode.INVALID_ARGUMENT: InvalidInput, grpc.StatusCode.NOT_FOUND: ModelNotFound,
           grpc.StatusCode.UNAVAILABLE: ModelNotReady}


def grpc_target(host: str) -> str:
    """``host:port`` from ``host:port`` or ``http://host:port``."""
    return host.removeprefix("http://").removeprefix("grpc://").rstrip("/")


class GrpcInferenceClient:
    """``inference.GRPCInferenceService`` at ``target`` (host:port); the channel opens on first use
    (so after a fork). Errors come back as KFuncError naming the target and the gRPC status."""

    def __init__(self, target: str, timeout: float = 60.0) -> None:
        self.target = grpc_target(target)
        self.timeout = timeout
        self._stub: GRPCInferenceServiceStub | None = None

    def infer(self, request: pb.ModelInferRequest,
              metadata: Sequence[tuple[str, str]] = ()) -> pb.ModelInferResponse:
        return self._call("ModelInfer", request, metadata)

    def model_metadata(self, name: str, version: str = "") -> pb.ModelMetadataResponse:
        return self._call("ModelMetadata", pb.ModelMetadataRequest(name=name, version=version), ())

    def _call(self, method: str, request, metadata: Sequence[tuple[str, str]]):
        if self._stub is None:
            channel = grpc.insecure_channel(self.target, options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                                                                  ("grpc.max_send_message_length", MAX_MESSAGE)])
            self._stub = GRPCInferenceServiceStub(channel)
        try:
            return getattr(self._stub, method)(request, metadata=list(metadata), timeout=self.timeout)
        except grpc.RpcError as exc:
            raise _error(self.target, exc) from None


def _error(target: str, exc: grpc.RpcError) -> KFuncError:
    code = exc.code()
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and "not ready" not in (exc.details() or ""):
        return RemotePredictorError(f"predictor at {target} is unreachable: {code.name}: {exc.details()}")
    error_type = _ERRORS.get(code, RemotePredictorError)
    return error_type(f"predictor at {target} answered {code.name}: {exc.details()}")
