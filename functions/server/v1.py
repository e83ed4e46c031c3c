"""KServe V1 routes: list models, model status, ``:predict`` and ``:explain``."""
from __future__ import annotations

from flask import Blueprint

from ..binding import bind_json, json_value
from ..errors import ModelNotFound
from ..function import Function
from ..protocol import v1
from .body import new_context, read_body
from .common import json_response, readiness_response, served_function

blueprint = Blueprint("v1", __name__)


def model(name: str) -> Function:
    """The served function if ``name`` is its model name, else 404."""
    function = served_function()
    if name != function.name:
        raise ModelNotFound(f"model {name!r} not found; this server serves {function.name!r}")
    return function


@blueprint.get("/v1/models")
def list_models():
    return json_response({"models": [served_function().name]})


@blueprint.get("/v1/models/<name>")
def model_status(name: str):
    return readiness_response(model(name), name=name)


def request_data(function: Function):
    """The request's instances: raw for a transformer, else bound to the declared inputs."""
    function.check_ready()
    instances = v1.decode_request(read_body())
    return instances if function.handlers.preprocess else bind_json(instances, function.inputs)


@blueprint.post("/v1/models/<name>:predict")
def predict(name: str):
    function = model(name)
    result = function.infer(request_data(function), new_context("v1", name))
    return json_response(v1.encode_predictions(json_value(result)))


@blueprint.post("/v1/models/<name>:explain")
def explain(name: str):
    function = model(name)
    result = function.explain(request_data(function), new_context("v1", name))
    return json_response(v1.encode_explanations(json_value(result)))
