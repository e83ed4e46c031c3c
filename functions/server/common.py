"""Helpers every route module shares: the served function and JSON responses."""
from __future__ import annotations

from flask import Response, current_app

from ..function import Function
from ..protocol.jsonutil import dumps


def served_function() -> Function:
    return current_app.config["KFUNC_FUNCTION"]


def json_response(body: bytes | dict, status: int = 200, headers: dict | None = None) -> Response:
    data = body if isinstance(body, bytes) else dumps(body)
    return Response(data, status=status, headers=headers, content_type="application/json")
