"""``POST /``: CloudEvents in binary or structured mode, or plain JSON (Knative Functions style).

The payload may be V1-shaped (``instances``), V2-shaped (``inputs`` tensors) or any JSON value;
the answer has the same shape, as a CloudEvent in the request's mode when one came in.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from ..binding import bind_json, bind_tensors, json_value, output_tensors
from ..errors import InvalidInput
from ..function import Function
from ..protocol import cloudevents, v1, v2
from ..protocol.jsonutil import dumps, loads, redump
from .body import new_context, read_body
from .common import json_response, served_function

blueprint = Blueprint("events", __name__)


@blueprint.post("/")
def invoke():
    function = served_function()
    function.check_ready()
    body = read_body()
    if cloudevents.is_cloudevent(request.headers):
        event = cloudevents.decode_event(request.headers, body)
        context = new_context("cloudevent", function.name, event=event.attributes)
        result = _run(function, event.data, context)
        headers, payload = cloudevents.encode_event(
            result, event_type=function.config.response_event_type,
            source=f"/kfunc/{function.name}", structured=event.structured)
        return Response(payload, headers=headers)
    content_type = request.headers.get("Content-Type", "application/json").lower()
    data = loads(body) if "json" in content_type or not body else body
    return json_response(dumps(_run(function, data, new_context("http", function.name))))


def _run(function: Function, data: Any, context) -> Any:
    """Infer on an event's data, answering in the shape it came in."""
    if _is_v2(data):
        request_ = v2.decode_request(redump(data), None)
        if request_.parameters.get("binary_data_output") or any(o.binary for o in request_.outputs):
            raise InvalidInput(f"POST / answers in JSON only; for binary outputs call /v2/models/{function.name}/infer")
        context.parameters.update(request_.parameters)
        result = function.infer(bind_tensors(request_.inputs, function.inputs), context)
        body, _ = v2.encode_response(function.name, function.version, request_,
                                     output_tensors(result, function.outputs))
        return loads(body)
    if isinstance(data, dict) and ("instances" in data or "inputs" in data):
        instances = v1.instances_of(data)
        bound = instances if function.handlers.preprocess else bind_json(instances, function.inputs)
        return {"predictions": json_value(function.infer(bound, context))}
    if not function.handlers.preprocess:
        if isinstance(data, (bytes, bytearray)):
            raise InvalidInput("this function takes JSON data; send Content-Type application/json or add a @transformer")
        data = bind_json(data, function.inputs)
    return json_value(function.infer(data, context))


def _is_v2(data: Any) -> bool:
    inputs = data.get("inputs") if isinstance(data, dict) else None
    return isinstance(inputs, list) and bool(inputs) and all(
        isinstance(t, dict) and "datatype" in t for t in inputs)
