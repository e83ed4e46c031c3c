"""The per-request context handed to handlers that ask for it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from opentelemetry import trace

from .generation.types import Sampling


@dataclass
class Context:
    """What a handler may want to know about the request it is serving.

    ``protocol`` is ``"v1"``, ``"v2"``, ``"cloudevent"`` or ``"http"``; ``event`` holds the
    CloudEvent attributes (``type``, ``source``, ``id``, extensions) when the trigger was an
    event; ``parameters`` the V2 request parameters; ``span`` the current OpenTelemetry span;
    ``model_name``/``model_version`` the model the request named (for ``@load``: the one it loads).
    A batching predictor's call serves several requests: its context is the first one's, with
    ``batch`` listing the contexts of all of them, in the order their rows were stacked.
    A generator's context carries the request's ``sampling`` parameters.
    """

    request_id: str
    protocol: str
    headers: Mapping[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    event: dict[str, Any] | None = None
    model_name: str = ""
    model_version: str | None = None
    batch: list["Context"] = field(default_factory=list)
    sampling: Sampling | None = None  # a generator's sampling parameters

    @property
    def span(self) -> trace.Span:
        return trace.get_current_span()
