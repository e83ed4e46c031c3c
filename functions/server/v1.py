"""KServe V1 routes: list models, model status, ``:predict`` and ``:explain``."""
from __future__ import annotations

from typing import Any

from ..binding import bind_json, json_value
from ..function import Function
from ..protocol import v1
from .common import readiness_reply
from .models import served_model
from .exchange import Exchange, Reply, json_reply
from .streaming import is_stream, stream_reply

def list_models(exchange: Exchange, function: Function) -> Reply:
    function.registry.refresh()  # a model uploaded to the repository since it was listed appears
    return json_reply({"models": function.registry.names()})


def model_status(exchange: Exchange, function: Function, name: str) -> Reply:
    return readiness_reply(function, served_model(function, name), name=name)


def request_data(exchange: Exchange, function: Function) -> Any:
    """The request's instances: raw for a transformer, else bound to the declared inputs."""
    function.check_ready()
    instances = v1.decode_request(exchange.body())
    return instances if function.handlers.preprocess else bind_json(instances, function.inputs)


def predict(exchange: Exchange, function: Function, name: str) -> Reply:
    """``POST /v1/models/<name>:predict``."""
    model = served_model(function, name)
    data = request_data(exchange, function)
    result = exchange.infer(function, data, exchange.context("v1", name), model)
    if is_stream(result):
        return stream_reply(result, exchange.accepts_event_stream())
    return json_reply(v1.encode_predictions(json_value(result)))


def explain(exchange: Exchange, function: Function, name: str) -> Reply:
    """``POST /v1/models/<name>:explain``."""
    served_model(function, name)
    data = request_data(exchange, function)
    result = function.explain(data, exchange.context("v1", name))
    return json_reply(v1.encode_explanations(json_value(result)))
