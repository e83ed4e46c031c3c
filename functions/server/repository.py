"""The Open Inference Protocol model repository extension (as Triton serves it): the index of models
with their state, and loading or unloading one by name. ``index_rows``, ``load_model`` and
``unload_model`` are transport-neutral (gRPC calls them too); the rest are the REST routes."""
from __future__ import annotations

from typing import Any

from ..errors import InvalidInput, ModelNotFound, ModelNotReady
from ..function import Function
from ..protocol.jsonutil import loads
from ..registry import READY
from .exchange import Exchange, Reply, json_reply


def index_rows(function: Function, ready_only: bool = False) -> list[dict[str, Any]]:
    """Every model: ``name``, ``version`` (when it has one), ``state`` (READY / LOADING / UNAVAILABLE /
    UNLOADING) and ``reason``; only the ready ones with ``ready_only``. The repository is listed
    again first (unless it was within ``model.refresh-interval``), so a model uploaded since appears."""
    function.registry.refresh()
    rows = function.registry.index()
    return [row for row in rows if row["state"] == READY] if ready_only else rows


def load_model(function: Function, name: str, version: str | None = None) -> None:
    """Load the model (its latest version unless ``version``) in this process now; 503 with the reason
    if its load fails (its next request retries it after a backoff)."""
    entry = function.model(name, version)
    try:
        function.registry.load(entry)
    except ModelNotFound:
        raise  # removed from the repository
    except Exception:
        raise ModelNotReady(f"model {entry.key} failed to load: {entry.error}; its next request retries it "
                            "after a backoff") from None


def unload_model(function: Function, name: str) -> None:
    """Unload every version of the model in every process (each once its requests finish); its next
    request loads it again. 404 for an unknown model, 400 for a pinned one."""
    function.model(name)
    for entry in [e for e in function.registry.entries if e.name == name]:
        function.registry.unload(entry)


def index(exchange: Exchange, function: Function) -> Reply:
    """``POST /v2/repository/index`` (``{"ready": true}`` lists the ready models only)."""
    return json_reply(index_rows(function, _body(exchange).get("ready") is True))


def load(exchange: Exchange, function: Function, name: str) -> Reply:
    """``POST /v2/repository/models/<name>/load`` (``{"parameters": {"version": "2"}}`` picks a version)."""
    version = _body(exchange).get("parameters", {}).get("version")
    load_model(function, name, str(version) if version is not None else None)
    return json_reply({})


def unload(exchange: Exchange, function: Function, name: str) -> Reply:
    """``POST /v2/repository/models/<name>/unload``."""
    unload_model(function, name)
    return json_reply({})


def _body(exchange: Exchange) -> dict[str, Any]:
    raw = exchange.body()
    value = loads(raw) if raw.strip() else {}
    if not isinstance(value, dict):
        raise InvalidInput("the body must be a JSON object (or empty)")
    if not isinstance(value.get("parameters", {}), dict):
        raise InvalidInput("'parameters' must be a JSON object")
    return value
