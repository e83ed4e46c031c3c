"""Helpers every route module shares: the served function and JSON responses."""
from __future__ import annotations

from flask import Response, current_app

from ..errors import ModelNotReady
from ..function import Function
from ..protocol.jsonutil import dumps


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
