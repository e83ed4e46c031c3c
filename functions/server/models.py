"""Which model a request names: one the function serves, or ModelNotFound (no web framework here)."""
from __future__ import annotations

from ..function import Function
from ..registry import ModelEntry


def served_model(function: Function, name: str, version: str | None = None) -> ModelEntry:
    """The model ``name`` (at ``version``, when given) of ``function``, else 404 naming the list endpoints."""
    return function.model(name, version)

