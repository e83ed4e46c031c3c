"""The Open Inference Protocol model repository extension (as Triton serves it): the index of models
with their state, and loading or unloading one by name."""
from __future__ import annotations

from typing import Any

from ..errors import InvalidInput, ModelNotReady
from ..function import Function
from ..protocol.jsonutil import loads
from ..registry import ModelEntry
from .exchange import Exchange, Reply, json_reply


def index(exchange: Exchange, function: Function) -> Reply:
    """``POST /v2/repository/index``: every model, ``state`` READY / LOADING / UNAVAILABLE / UNLOADING
    and ``reason``; ``{"ready": true}`` in the body lists the ready ones only."""
    body = _body(exchange)
    rows = function.registry.index()
    if body.get("ready") is True:
        rows = [row for row in rows if row["state"] == "READY"]
    return json_reply(rows)


def load(exchange: Exchange, function: Function, name: str) -> Reply:
    """``POST /v2/repository/models/<name>/load``: load the model (its latest version, or
    ``{"parameters": {"version": ...}}``) in this process now; 503 with the reason if it fails."""
    version = _body(exchange).get("parameters", {}).get("version")
    entry = function.model(name, str(version) if version is not None else None)
    try:
        function.registry.load(entry)
    except Exception:
        raise ModelNotReady(f"model {entry.key} failed to load: {entry.error}; its next request retries it "
                            "after a backoff") from None
    return json_reply({})


def unload(exchange: Exchange, function: Function, name: str) -> Reply:
    """``POST /v2/repository/models/<name>/unload``: unload every version of the model in every process
    (each once its requests finish); its next request loads it again."""
    entries: list[ModelEntry] = [e for e in function.registry.entries if e.name == name] or [function.model(name)]
    for entry in entries:
        function.registry.unload(entry)
    return json_reply({})


def _body(exchange: Exchange) -> dict[str, Any]:
    raw = exchange.body()
    value = loads(raw) if raw.strip() else {}
    if not isinstance(value, dict):
        raise InvalidInput("the body must be a JSON object (or empty)")
    parameters = value.get("parameters", {})
    if not isinstance(parameters, dict):
        raise InvalidInput("'parameters' must be a JSON object")
    return value
