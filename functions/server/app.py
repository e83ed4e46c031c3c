"""The flask app serving one function over V1, V2, CloudEvents and the health endpoints."""
from __future__ import annotations

import functools
import logging
from typing import Callable

from flask import Flask, Response, current_app, request
from opentelemetry import trace
from werkzeug.exceptions import HTTPException

from ..errors import KFuncError
from ..function import Function
from .. import telemetry
from .body import request_id
from .common import json_response
from . import events, health, v1, v2

log = logging.getLogger("kfunc")
tracer = trace.get_tracer("kfunc")
_UNTRACED = {"health.", "static"}


def create_app(function: Function) -> Flask:
    """A WSGI app for ``function``; every route answers errors as JSON ``{"error": ...}``."""
    app = Flask("kfunc")
    app.config["KFUNC_FUNCTION"] = function
    app.config["KFUNC_MAX_BODY"] = int(function.config.runtime.max_body_mb * 1024 * 1024)
    for module in (health, v1, v2, events):
        app.register_blueprint(module.blueprint)
    for endpoint, view in list(app.view_functions.items()):
        if not endpoint.startswith(tuple(_UNTRACED)):
            app.view_functions[endpoint] = _traced(view)
    app.register_error_handler(KFuncError, _kfunc_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _handler_failure)
    app.after_request(_echo_request_id)
    return app


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
            except KFuncError as exc:
                response = _kfunc_error(exc)
            except Exception as exc:
                span.record_exception(exc)
                response = _handler_failure(exc)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            return response

    return wrapper


def _kfunc_error(exc: KFuncError) -> Response:
    if exc.status >= 500:
        log.warning("request %s failed: %s", request_id(), exc)
    return json_response({"error": str(exc)}, exc.status)


def _http_error(exc: HTTPException) -> Response:
    return json_response({"error": exc.description or exc.name}, exc.code or 500)


def _handler_failure(exc: Exception) -> Response:
    log.error("request %s: handler failed", request_id(), exc_info=exc)
    return json_response({"error": f"{type(exc).__name__}: {exc}"}, 500)


def _echo_request_id(response: Response) -> Response:
    response.headers["X-Request-Id"] = request_id()
    return response
