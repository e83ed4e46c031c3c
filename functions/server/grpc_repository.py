"""The model repository extension over gRPC: ``RepositoryIndex``, ``RepositoryModelLoad`` and
``RepositoryModelUnload``, Triton's methods and messages (``protocol/model_repository.proto``), served
under ``inference.GRPCInferenceService`` by both transports, so tritonclient's
``get_model_repository_index``, ``load_model`` and ``unload_model`` work unchanged."""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from ..function import Function
from ..protocol.grpc_gen import model_repository_pb2 as rpb
from . import blocking
from .grpc_service import rpc_error
from .repository import index_rows, load_model, unload_model

# method name -> (request class, response class)
METHODS = {"RepositoryIndex": (rpb.RepositoryIndexRequest, rpb.RepositoryIndexResponse),
           "RepositoryModelLoad": (rpb.RepositoryModelLoadRequest, rpb.RepositoryModelLoadResponse),
           "RepositoryModelUnload": (rpb.RepositoryModelUnloadRequest, rpb.RepositoryModelUnloadResponse)}


class RepositoryService:
    """The three methods, each raising ``RpcError`` (NOT_FOUND, INVALID_ARGUMENT, UNAVAILABLE)."""

    def __init__(self, function: Function) -> None:
        self.function = function

    def calls(self) -> dict[str, Callable[[Any], Awaitable[Any]]]:
        return {"RepositoryIndex": self.index, "RepositoryModelLoad": self.load,
                "RepositoryModelUnload": self.unload}

    async def index(self, request: rpb.RepositoryIndexRequest) -> rpb.RepositoryIndexResponse:
        rows = await self._run(index_rows, request.ready)
        return rpb.RepositoryIndexResponse(models=[rpb.RepositoryIndexResponse.ModelIndex(
            name=row["name"], version=row.get("version", ""), state=row["state"], reason=row["reason"])
            for row in rows])

    async def load(self, request: rpb.RepositoryModelLoadRequest) -> rpb.RepositoryModelLoadResponse:
        version = request.parameters["version"].string_param if "version" in request.parameters else None
        await self._run(load_model, request.model_name, version or None)
        return rpb.RepositoryModelLoadResponse()

    async def unload(self, request: rpb.RepositoryModelUnloadRequest) -> rpb.RepositoryModelUnloadResponse:
        await self._run(unload_model, request.model_name)
        return rpb.RepositoryModelUnloadResponse()

    async def _run(self, call: Callable[..., Any], *args: Any) -> Any:
        """``call(function, *args)`` on the handler pool (a load blocks); its error as an RpcError."""
        def run() -> Any:
            try:
                return call(self.function, *args)
            except Exception as exc:
                raise rpc_error(exc, "repository") from None
        return await blocking.call(run)
