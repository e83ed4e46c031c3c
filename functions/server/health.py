"""Liveness and readiness: OIP ``/v2/health/*`` and Knative Functions ``/health/*``."""
from __future__ import annotations

from flask import Blueprint

from .common import json_response, readiness_response, served_function

blueprint = Blueprint("health", __name__)


@blueprint.get("/v2/health/live")
@blueprint.get("/health/liveness")
def live():
    return json_response({"live": True})


@blueprint.get("/v2/health/ready")
@blueprint.get("/health/readiness")
def ready():
    return readiness_response(served_function())
