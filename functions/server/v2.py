"""Open Inference Protocol (KServe V2) REST routes, with the binary tensor extension: server and
model metadata, readiness, inference."""
from __future__ import annotations

from ..binding import bind_tensors, output_tensors
from ..errors import InvalidInput
from ..function import Function
from ..protocol import v2
from ..protocol.binary import HEADER_LENGTH
from .common import readiness_reply
from .models import served_model
from .exchange import Exchange, Reply, json_reply

_HEADER_LENGTH = HEADER_LENGTH.lower()


def server_metadata(exchange: Exchange, function: Function) -> Reply:
    from importlib.metadata import PackageNotFoundError, version
    try:
        kfunc_version = version("kfunc")
    except PackageNotFoundError:
        kfunc_version = "0"
    return json_reply({"name": "kfunc", "version": kfunc_version, "extensions": ["binary_tensor_data"]})


def model_metadata(exchange: Exchange, function: Function, name: str, version: str | None = None) -> Reply:
    return json_reply(function.metadata(served_model(function, name, version)))


def model_ready(exchange: Exchange, function: Function, name: str, version: str | None = None) -> Reply:
    return readiness_reply(function, served_model(function, name, version), name=name)


def infer(exchange: Exchange, function: Function, name: str, version: str | None = None) -> Reply:
    """``POST /v2/models/<name>[/versions/<version>]/infer``."""
    model = served_model(function, name, version)
    function.check_ready()  # 503 before the body is read, while the model loads
    infer_request = v2.decode_request(exchange.body(), _header_length(exchange))
    context = exchange.context("v2", name, model_version=model.version, parameters=dict(infer_request.parameters))
    data = bind_tensors(infer_request.inputs, function.inputs)
    result = exchange.infer(function, data, context, model)
    body, headers = v2.encode_response(model.name, model.version, infer_request,
                                       output_tensors(result, function.outputs))
    return Reply(body, headers)


def _header_length(exchange: Exchange) -> int | None:
    value = exchange.header(_HEADER_LENGTH)
    if value is None:
        return None
    try:
        length = int(value)
    except ValueError:
        raise InvalidInput(f"{HEADER_LENGTH} must be an integer, got {value!r}") from None
    return length
