"""``POST /``: CloudEvents in binary or structured mode, or plain JSON (Knative Functions style).

The payload may be V1-shaped (``instances``), V2-shaped (``inputs`` tensors) or any JSON value;
the answer has the same shape, as a CloudEvent in the request's mode when one came in. A
handler that returns a generator streams its answer to a plain request (``functions.server.streaming``).

A function serving several models takes the model's name from the CloudEvent extension attribute
``model`` (and ``modelversion``), or from the ``X-Kfunc-Model`` (``X-Kfunc-Model-Version``) header of a
plain request; a single-model function needs neither.
"""
from __future__ import annotations

from typing import Any

from ..binding import bind_json, bind_tensors, json_value, output_tensors
from ..errors import InvalidInput
from ..function import Function
from ..protocol import cloudevents, v1, v2
from ..protocol.jsonutil import loads, redump
from ..registry import ModelEntry
from .exchange import Exchange, Reply, json_reply
from .models import served_model
from .streaming import is_stream, stream_reply

MODEL_ATTRIBUTE, VERSION_ATTRIBUTE = "model", "modelversion"
MODEL_HEADER, VERSION_HEADER = "x-kfunc-model", "x-kfunc-model-version"


def invoke(exchange: Exchange, function: Function) -> Reply:
    """``POST /``."""
    function.check_ready()
    body = exchange.body()
    headers = exchange.headers
    if cloudevents.is_cloudevent(headers):
        event = cloudevents.decode_event(headers, body)
        model = _named_model(function, event.attributes.get(MODEL_ATTRIBUTE),
                             event.attributes.get(VERSION_ATTRIBUTE), "the CloudEvent extension attribute 'model'")
        context = exchange.context("cloudevent", model.name, model_version=model.version, event=event.attributes)
        result = _run(exchange, function, model, event.data, context)
        reply_headers, payload = cloudevents.encode_event(
            result, event_type=function.config.response_event_type,
            source=f"/kfunc/{function.name}", structured=event.structured)
        return Reply(payload, reply_headers)
    content_type = exchange.header("content-type", "application/json").lower()
    data = loads(body) if "json" in content_type or not body else body
    model = _named_model(function, exchange.header(MODEL_HEADER), exchange.header(VERSION_HEADER),
                         "the X-Kfunc-Model header")
    result = _run(exchange, function, model, data,
                  exchange.context("http", model.name, model_version=model.version))
    if is_stream(result):
        return stream_reply(result, exchange.accepts_event_stream())
    return json_reply(result)


def _named_model(function: Function, name: str | None, version: str | None, where: str) -> ModelEntry:
    """The model a request to ``POST /`` names; a single-model function's own, whatever it names."""
    if not function.multi_model:
        return served_model(function, function.name)
    if not name:
        raise InvalidInput(f"this function serves several models; name one in {where} "
                           "(GET /v1/models lists them)")
    return served_model(function, name, version or None)


def _run(exchange: Exchange, function: Function, model: ModelEntry, data: Any, context) -> Any:
    """Infer on an event's data, answering in the shape it came in."""
    if _is_v2(data):
        request_ = v2.decode_request(redump(data), None)
        if request_.parameters.get("binary_data_output") or any(o.binary for o in request_.outputs):
            raise InvalidInput(f"POST / answers in JSON only; for binary outputs call /v2/models/{model.name}/infer")
        context.parameters.update(request_.parameters)
        result = exchange.infer(function, bind_tensors(request_.inputs, function.inputs), context)
        body, _ = v2.encode_response(model.name, model.version, request_,
                                     output_tensors(result, function.outputs))
        return loads(body)
    if isinstance(data, dict) and ("instances" in data or "inputs" in data):
        instances = v1.instances_of(data)
        bound = instances if function.handlers.preprocess else bind_json(instances, function.inputs)
        return {"predictions": json_value(exchange.infer(function, bound, context))}
    if not function.handlers.preprocess:
        if isinstance(data, (bytes, bytearray)):
            raise InvalidInput("this function takes JSON data; send Content-Type application/json or add a @transformer")
        data = bind_json(data, function.inputs)
    result = exchange.infer(function, data, context)
    return result if is_stream(result) else json_value(result)


def _is_v2(data: Any) -> bool:
    inputs = data.get("inputs") if isinstance(data, dict) else None
    return isinstance(inputs, list) and bool(inputs) and all(
        isinstance(t, dict) and "datatype" in t for t in inputs)
