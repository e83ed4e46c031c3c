"""gRPC on its own port (KServe's layout, ``--grpc-port``, 8081): grpcio's asyncio server over
``grpc_service``, with health checking and reflection (grpcio-reflection: ``v1alpha``, which
grpcurl and grpcio's clients fall back to).

Start it in each serving process, on that process's event loop; several processes share the
port through ``SO_REUSEPORT``.
"""
from __future__ import annotations

from typing import AsyncIterator

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2

from ..function import Function
from ..protocol.grpc_gen import open_inference_grpc_pb2 as pb
from ..protocol.grpc_gen import open_inference_grpc_pb2_grpc as pb_grpc
from .grpc_repository import METHODS as REPOSITORY_METHODS
from .grpc_repository import RepositoryService
from .grpc_service import HEALTH_SERVICE, SERVICE, InferenceService, RpcError


async def start_grpc_server(function: Function, port: int, host: str = "[::]") -> grpc.aio.Server:
    """A started ``grpc.aio`` server for ``function`` on ``host:port`` (SO_REUSEPORT on; messages up to
    ``runtime.max-body-mb``)."""
    service = InferenceService(function)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 1), ("grpc.max_receive_message_length", service.max_message),
                                      ("grpc.max_send_message_length", service.max_message)])
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(_Inference(service), server)
    server.add_generic_rpc_handlers([_repository_handler(RepositoryService(function))])
    health_pb2_grpc.add_HealthServicer_to_server(_Health(service), server)
    reflection.enable_server_reflection([SERVICE, HEALTH_SERVICE, reflection.SERVICE_NAME], server, _reflected_pool())
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise OSError(f"the gRPC server cannot listen on {host}:{port}")
    await server.start()
    return server


def _reflected_pool() -> descriptor_pool.DescriptorPool:
    """kfunc's own descriptor pool (see scripts/gen_grpc.sh), with health and reflection added."""
    pool = pb.DESCRIPTOR.pool
    for module in (health_pb2, reflection_pb2):
        try:
            pool.FindFileByName(module.DESCRIPTOR.name)
        except KeyError:
            pool.AddSerializedFile(module.DESCRIPTOR.serialized_pb)
    return pool


def _repository_handler(service: RepositoryService) -> grpc.GenericRpcHandler:
    """The repository methods under the inference service's name (a second handler for it: grpcio
    asks each in turn for a method)."""
    calls = service.calls()

    def unary(name: str, request: type, response: type) -> grpc.RpcMethodHandler:
        async def handle(message, context: grpc.aio.ServicerContext):
            try:
                return await calls[name](message)
            except RpcError as exc:
                await _abort(context, exc)
        return grpc.unary_unary_rpc_method_handler(handle, request_deserializer=request.FromString,
                                                   response_serializer=response.SerializeToString)

    return grpc.method_handlers_generic_handler(SERVICE, {name: unary(name, *types)
                                                          for name, types in REPOSITORY_METHODS.items()})


async def _abort(context: grpc.aio.ServicerContext, error: RpcError) -> None:
    await context.abort(grpc.StatusCode[error.code], error.message)


class _Inference(pb_grpc.GRPCInferenceServiceServicer):
    def __init__(self, service: InferenceService) -> None:
        self.service = service

    async def _call(self, method, request, context: grpc.aio.ServicerContext, *args):
        try:
            return await method(request, *args)
        except RpcError as exc:
            await _abort(context, exc)

    async def ServerLive(self, request: pb.ServerLiveRequest, context) -> pb.ServerLiveResponse:
        return await self._call(self.service.server_live, request, context)

    async def ServerReady(self, request: pb.ServerReadyRequest, context) -> pb.ServerReadyResponse:
        return await self._call(self.service.server_ready, request, context)

    async def ModelReady(self, request: pb.ModelReadyRequest, context) -> pb.ModelReadyResponse:
        return await self._call(self.service.model_ready, request, context)

    async def ServerMetadata(self, request: pb.ServerMetadataRequest, context) -> pb.ServerMetadataResponse:
        return await self._call(self.service.server_metadata, request, context)

    async def ModelMetadata(self, request: pb.ModelMetadataRequest, context) -> pb.ModelMetadataResponse:
        return await self._call(self.service.model_metadata, request, context)

    async def ModelInfer(self, request: pb.ModelInferRequest, context) -> pb.ModelInferResponse:
        metadata = {key: value for key, value in context.invocation_metadata() if isinstance(value, str)}
        return await self._call(self.service.model_infer, request, context, metadata)


class _Health(health_pb2_grpc.HealthServicer):
    def __init__(self, service: InferenceService) -> None:
        self.service = service

    async def Check(self, request: health_pb2.HealthCheckRequest, context) -> health_pb2.HealthCheckResponse:
        try:
            return health_pb2.HealthCheckResponse(status=self.service.health(request.service))
        except RpcError as exc:
            await _abort(context, exc)

    async def Watch(self, request: health_pb2.HealthCheckRequest,
                    context) -> AsyncIterator[health_pb2.HealthCheckResponse]:
        yield await self.Check(request, context)  # the current status, once
