"""The WSGI app serving one function: the inference fast path in front of a flask app for the rest
(health, model metadata and readiness, ``/metrics``); every route answers errors as JSON."""
from __future__ import annotations

import functools
from typing import Callable

from flask import Flask, Response, current_app, g, request
from opentelemetry import trace
from werkzeug.exceptions import HTTPException

from .. import metrics, telemetry
from ..errors import KFuncError
from ..function import Function
from .body import request_id_from
from .common import error_answer, json_response
from .inference import InferenceServer
from . import health, v1, v2

tracer = trace.get_tracer("kfunc")
_UNTRACED = {"health.", "static", "prometheus"}


def create_app(function: Function) -> InferenceServer:
    """The WSGI app for ``function``."""
    flask_app = _flask_app(function)
    return InferenceServer(function, flask_app, flask_app.config["KFUNC_MAX_BODY"])


def _flask_app(function: Function) -> Flask:
    app = Flask("kfunc")
    app.config["KFUNC_FUNCTION"] = function
    app.config["KFUNC_MAX_BODY"] = int(function.config.runtime.max_body_mb * 1024 * 1024)
    for module in (health, v1, v2):
        app.register_blueprint(module.blueprint)
    app.add_url_rule("/metrics", "prometheus", _prometheus)
    for endpoint, view in list(app.view_functions.items()):
        if not endpoint.startswith(tuple(_UNTRACED)):
            app.view_functions[endpoint] = _traced(view)
    app.register_error_handler(Exception, _error)
    app.after_request(_echo_request_id)
    return app


def _prometheus() -> Response:
    """The request metrics of every worker, summed, in the Prometheus text format."""
    return Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE)


def _traced(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        rule = request.url_rule.rule if request.url_rule else request.path
        with tracer.start_as_current_span(f"{request.method} {rule}", kind=trace.SpanKind.SERVER,
                                          context=telemetry.extract(request.headers)) as span:
            span.set_attribute("http.request.method", request.method)
            span.set_attribute("http.route", rule)
            span.set_attribute("kfunc.request_id", request_id())
            try:
                response = current_app.make_response(view(*args, **kwargs))
            except Exception as exc:
                if not isinstance(exc, KFuncError):
                    span.record_exception(exc)
                response = _error(exc)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            return response

    return wrapper


def _error(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return json_response({"error": exc.description or exc.name}, exc.code or 500)
    status, body = error_answer(exc, request_id())
    return json_response(body, status)


def request_id() -> str:
    """The caller's ``X-Request-Id``, or a new one; the response echoes it."""
    if "request_id" not in g:
        g.request_id = request_id_from(request.headers.get("X-Request-Id"))
    return g.request_id


def _echo_request_id(response: Response) -> Response:
    response.headers["X-Request-Id"] = request_id()
    return response
