"""Liveness and readiness: OIP ``/v2/health/*`` and Knative Functions ``/health/*``; ``/metrics``."""
from __future__ import annotations

from .. import metrics
from ..function import Function
from .common import readiness_reply
from .exchange import Exchange, Reply, json_reply


def live(exchange: Exchange, function: Function) -> Reply:
    return json_reply({"live": True})


def ready(exchange: Exchange, function: Function) -> Reply:
    return readiness_reply(function)


def prometheus(exchange: Exchange, function: Function) -> Reply:
    """The request metrics of every worker, summed, in the Prometheus text format."""
    return Reply(metrics.exposition(), {"Content-Type": metrics.CONTENT_TYPE})
