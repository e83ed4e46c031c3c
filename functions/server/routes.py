"""The one route table: every endpoint of every protocol, matched once, with its 405 and OPTIONS
answers (``Allow`` listing the methods the path takes, as RFC 9110 asks), and the shape of the
error answers under each path (``/openai/``: OpenAI's, its unknown paths and methods included)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from . import embeddings, events, generate, health, openai, repository, v1, v2
from .common import plain_error
from .exchange import Reply

Handler = Callable[..., Reply]
ErrorShape = Callable[[int, str, Exception], dict]
_PARAM = re.compile(r"<(\w+)>")
_SEGMENT = "[^/:]+"  # a model name or version never holds the ':' of ':predict'


@dataclass(frozen=True)
class Route:
    """One endpoint: method, path rule (``<param>`` placeholders), handler and what it is.

    ``protocol`` names it in the request metrics (None: not counted); ``inference`` routes run
    the predictor (a batching one may wait for them), are traced and may stream."""

    method: str
    rule: str
    handler: Handler
    protocol: str | None = None
    inference: bool = False
    pattern: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        regex = _PARAM.sub(lambda m: f"(?P<{m[1]}>{_SEGMENT})", re.escape(self.rule))
        object.__setattr__(self, "pattern", re.compile(regex))

    @property
    def error_shape(self) -> ErrorShape:
        """What writes the body of this route's error answers."""
        return error_shape(self.rule)


ROUTES = (
    Route("POST", "/v2/models/<name>/infer", v2.infer, "v2", inference=True),
    Route("POST", "/v2/models/<name>/versions/<version>/infer", v2.infer, "v2", inference=True),
    Route("POST", "/v1/models/<name>:predict", v1.predict, "v1", inference=True),
    Route("POST", "/v1/models/<name>:explain", v1.explain, "v1"),
    Route("POST", "/", events.invoke, "http", inference=True),
    Route("POST", "/openai/v1/embeddings", embeddings.create, "openai", inference=True),
    Route("POST", "/openai/v1/completions", openai.completions, "openai"),
    Route("POST", "/openai/v1/chat/completions", openai.chat_completions, "openai"),
    Route("GET", "/openai/v1/models", openai.list_models),
    Route("GET", "/openai/v1/models/<name>", openai.model),
    Route("POST", "/v2/models/<name>/generate", generate.generate, "v2"),
    Route("POST", "/v2/models/<name>/generate_stream", generate.generate_stream, "v2"),
    Route("GET", "/v2/health/live", health.live),
    Route("GET", "/v2/health/ready", health.ready),
    Route("GET", "/health/liveness", health.live),
    Route("GET", "/health/readiness", health.ready),
    Route("GET", "/metrics", health.prometheus),
    Route("GET", "/v2", v2.server_metadata),
    Route("GET", "/v2/models/<name>", v2.model_metadata),
    Route("GET", "/v2/models/<name>/versions/<version>", v2.model_metadata),
    Route("GET", "/v2/models/<name>/ready", v2.model_ready),
    Route("GET", "/v2/models/<name>/versions/<version>/ready", v2.model_ready),
    Route("GET", "/v1/models", v1.list_models),
    Route("POST", "/v2/repository/index", repository.index),
    Route("POST", "/v2/repository/models/<name>/load", repository.load),
    Route("POST", "/v2/repository/models/<name>/unload", repository.unload),
    Route("GET", "/v1/models/<name>", v1.model_status),
)


API_PREFIXES: tuple[tuple[str, ErrorShape], ...] = (("/openai/", openai.error_shape),)


def error_shape(path: str) -> ErrorShape:
    """What writes an error answer's body for ``path``: its API's shape, else kfunc's own."""
    return next((shape for prefix, shape in API_PREFIXES if path.startswith(prefix)), plain_error)


def reserved(path: str) -> bool:
    """Whether ``path`` is under an API prefix kfunc serves whole (the function's own routes never get it)."""
    return any(path.startswith(prefix) for prefix, _ in API_PREFIXES)


@dataclass(frozen=True)
class Match:
    """What the table says of a request: its route and parameters, or the methods the path allows."""

    route: Route | None
    params: dict[str, str]
    allowed: tuple[str, ...] = ()


def match(method: str, path: str, routes: tuple[Route, ...] = ROUTES) -> Match | None:
    """The route for ``method`` on ``path``; a Match without route (405) when only other methods
    serve the path; None when no route does (404, or the function's own routes)."""
    allowed: list[str] = []
    for route in routes:
        found = route.pattern.fullmatch(path)
        if found is None:
            continue
        if route.method == method or (method == "HEAD" and route.method == "GET"):
            return Match(route, found.groupdict())
        allowed.append(route.method)
    if not allowed:
        return None
    if "GET" in allowed:
        allowed.append("HEAD")
    return Match(None, {}, tuple(sorted({*allowed, "OPTIONS"})))
