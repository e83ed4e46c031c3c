"""Helpers every route module shares: readiness answers and error answers."""
from __future__ import annotations

import logging

from ..errors import KFuncError, ModelNotReady
from ..function import Function
from ..registry import ModelEntry
from .exchange import Reply, json_reply

log = logging.getLogger("kfunc")


def readiness_reply(function: Function, entry: ModelEntry | None = None, **fields) -> Reply:
    """``{..fields, "ready": true}``, or 503 with ``"ready": false`` and the reason as ``"error"``.
    A model of a repository is ready once loaded in this process (it loads on its first request)."""
    if entry is not None and function.multi_model and not entry.ready:
        return json_reply({**fields, "ready": False, "state": entry.state,
                           "error": f"model {entry.key} is not loaded: {entry.reason}"}, 503)
    try:
        function.check_ready()
    except ModelNotReady as exc:
        return json_reply({**fields, "ready": False, "error": str(exc)}, 503)
    return json_reply({**fields, "ready": True})


def plain_error(status: int, message: str, exc: Exception) -> dict:
    """kfunc's own error body, ``{"error": message}`` (routes of other APIs bring their own shape)."""
    return {"error": message}


def error_answer(exc: Exception, request_id: str) -> tuple[int, str]:
    """The status and message for an exception a route raised, logged as it deserves:
    a KFuncError is the message it carries; anything else is the handler's failure (500, with
    its type and message in the answer and its stack trace in the log only)."""
    if isinstance(exc, KFuncError):
        if exc.status >= 500 or exc.status == 408:  # the server's or the connection's trouble
            log.warning("request %s failed: %s", request_id, exc)
        return exc.status, str(exc)
    log.error("request %s: handler failed", request_id, exc_info=exc)
    return 500, f"{type(exc).__name__}: {exc}"
