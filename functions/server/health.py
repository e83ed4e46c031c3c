"""Liveness and readiness: OIP ``/v2/health/*`` and Knative Functions ``/health/*``."""
from __future__ import annotations

from flask import Blueprint

from ..errors import ModelNotReady
from .common import json_response, served_function

blueprint = Blueprint("health", __name__)


@blueprint.get("/v2/health/live")
@blueprint.get("/health/liveness")
def live():
    return json_response({"live": True})


@blueprint.get("/v2/health/ready")
@blueprint.get("/health/readiness")
def ready():
    function = served_function()
    try:
        function.check_ready()
    except ModelNotReady as exc:
        return json_response({"ready": False, "error": str(exc)}, 503)
    return json_response({"ready": True})
