"""Which model a request names: the served function's, or ModelNotFound (no web framework here)."""
from __future__ import annotations

from ..errors import ModelNotFound
from ..function import Function


def served_model(function: Function, name: str, version: str | None = None) -> Function:
    """``function`` if ``name`` (and ``version``, when given) are its model's, else 404."""
    if name != function.name:
        raise ModelNotFound(f"model {name!r} not found; this server serves {function.name!r}")
    if version is not None and version != function.version:
        served = f"version {function.version!r}" if function.version else "no versions"
        raise ModelNotFound(f"model {name!r} version {version!r} not found; it has {served}")
    return function
