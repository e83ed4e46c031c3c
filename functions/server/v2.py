"""Open Inference Protocol (KServe V2) REST routes, with the binary tensor extension."""
from __future__ import annotations

from flask import Blueprint, Response, request

from ..binding import bind_tensors, output_tensors
from ..errors import InvalidInput, ModelNotFound
from ..function import Function
from ..protocol import v2
from ..protocol.binary import HEADER_LENGTH
from .body import new_context, read_body
from .common import json_response, readiness_response
from .v1 import model

blueprint = Blueprint("v2", __name__)


def versioned(name: str, version: str | None) -> Function:
    """The served function if name (and version, when given) match, else 404."""
    function = model(name)
    if version is not None and version != function.version:
        served = f"version {function.version!r}" if function.version else "no versions"
        raise ModelNotFound(f"model {name!r} version {version!r} not found; it has {served}")
    return function


@blueprint.get("/v2")
def server_metadata():
    from importlib.metadata import PackageNotFoundError, version
    try:
        kfunc_version = version("kfunc")
    except PackageNotFoundError:
        kfunc_version = "0"
    return json_response({"name": "kfunc", "version": kfunc_version, "extensions": ["binary_tensor_data"]})


@blueprint.get("/v2/models/<name>")
@blueprint.get("/v2/models/<name>/versions/<version>")
def model_metadata(name: str, version: str | None = None):
    return json_response(versioned(name, version).metadata())


@blueprint.get("/v2/models/<name>/ready")
@blueprint.get("/v2/models/<name>/versions/<version>/ready")
def model_ready(name: str, version: str | None = None):
    return readiness_response(versioned(name, version), name=name)


@blueprint.post("/v2/models/<name>/infer")
@blueprint.post("/v2/models/<name>/versions/<version>/infer")
def infer(name: str, version: str | None = None):
    function = versioned(name, version)
    function.check_ready()
    infer_request = v2.decode_request(read_body(), _header_length())
    context = new_context("v2", name, parameters=dict(infer_request.parameters))
    data = bind_tensors(infer_request.inputs, function.inputs)
    result = function.infer(data, context)
    outputs = output_tensors(result, function.outputs)
    body, headers = v2.encode_response(function.name, function.version, infer_request, outputs)
    return Response(body, headers=headers)


def _header_length() -> int | None:
    value = request.headers.get(HEADER_LENGTH)
    if value is None:
        return None
    try:
        length = int(value)
    except ValueError:
        raise InvalidInput(f"{HEADER_LENGTH} must be an integer, got {value!r}") from None
    return length
