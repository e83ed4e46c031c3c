"""Helpers every flask route module shares: the served function, JSON responses, error answers."""
from __future__ import annotations

import logging

from flask import Response, current_app

from ..errors import KFuncError, ModelNotReady
from ..function import Function
from ..protocol.jsonutil import dumps

log = logging.getLogger("kfunc")


def served_function() -> Function:
    return current_app.config["KFUNC_FUNCTION"]


def json_response(body: bytes | dict, status: int = 200, headers: dict | None = None) -> Response:
    data = body if isinstance(body, bytes) else dumps(body)
    return Response(data, status=status, headers=headers, content_type="application/json")


def readiness_response(function: Function, **fields) -> Response:
    """``{..fields, "ready": true}``, or 503 with ``"ready": false`` and the reason as ``"error"``."""
    try:
        function.check_ready()
    except ModelNotReady as exc:
        return json_response({**fields, "ready": False, "error": str(exc)}, 503)
    return json_response({**fields, "ready": True})


def error_answer(exc: Exception, request_id: str) -> tuple[int, dict]:
    """The status and ``{"error": ...}`` body for an exception a route raised, logged as it deserves:
    a KFuncError is the message it carries; anything else is the handler's failure (500, with
    its type and message in the answer and its stack trace in the log only)."""
    if isinstance(exc, KFuncError):
        if exc.status >= 500:
            log.warning("request %s failed: %s", request_id, exc)
        return exc.status, {"error": str(exc)}
    log.error("request %s: handler failed", request_id, exc_info=exc)
    return 500, {"error": f"{type(exc).__name__}: {exc}"}
