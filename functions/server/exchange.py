"""One request as a handler sees it (read from the ASGI scope and the body already received),
and the reply a handler returns.

Handlers are plain functions of an ``Exchange``: they never touch the web server, so the same
code serves HTTP/1.1, h2c and (through ``functions.server.grpc_asgi``) gRPC.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Iterator, Mapping

from werkzeug.datastructures import Headers

from ..context import Context
from ..errors import KFuncError
from ..function import Function
from ..protocol.jsonutil import dumps
from ..registry import ModelEntry
from ..timing import RequestTimer
from .body import decode_body, request_id_from

JSON = "application/json"


@dataclass
class Reply:
    """A response: status, body and headers (``Content-Type`` included); ``stream`` instead of
    ``body`` for a handler that answers in chunks (see ``functions.server.streaming``); ``later``
    for one whose answer is awaited on the event loop (a generation that waits for its tokens
    without holding a handler thread)."""

    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": JSON})
    status: int = 200
    stream: Iterator[Any] | AsyncIterator[Any] | None = None
    later: Awaitable["Reply"] | None = None


def json_reply(value: Any, status: int = 200) -> Reply:
    return Reply(value if isinstance(value, bytes) else dumps(value), {"Content-Type": JSON}, status)


class LazyHeaders:
    """The request headers as werkzeug ``Headers``, built on first use: most handlers never
    look at ``context.headers``, and building them costs more than the rest of the context."""

    __slots__ = ("_exchange",)

    def __init__(self, exchange: "Exchange") -> None:
        self._exchange = exchange

    def __getattr__(self, name: str) -> Any:
        return getattr(self._exchange.headers, name)

    def __getitem__(self, key: str) -> str:
        return self._exchange.headers[key]

    def __contains__(self, key: object) -> bool:
        return key in self._exchange.headers

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._exchange.headers)

    def __len__(self) -> int:
        return len(self._exchange.headers)

    def __repr__(self) -> str:
        return repr(self._exchange.headers)


class Exchange:
    """What a handler reads of its request; ``protocol`` is set once it is known."""

    __slots__ = ("scope", "raw_body", "limit", "protocol", "timer", "trace_parent", "_fields", "_headers",
                 "_request_id")

    def __init__(self, scope: Mapping[str, Any], raw_body: bytes, limit: int, protocol: str,
                 timer: RequestTimer) -> None:
        self.scope = scope
        self.raw_body = raw_body
        self.limit = limit
        self.protocol = protocol
        self.timer = timer
        self.trace_parent: str | None = None  # the server span's W3C traceparent, when tracing records
        self._fields: dict[str, str] | None = None
        self._headers: Headers | None = None
        self._request_id: str | None = None

    @property
    def headers(self) -> Headers:
        """The request headers, case-insensitive (werkzeug's ``Headers``, as under flask)."""
        if self._headers is None:
            self._headers = Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in self.scope["headers"]])
        return self._headers

    def header(self, name: str, default: str | None = None) -> str | None:
        """One header by its lower-case name, cheaply (repeated fields joined with ``, ``)."""
        if self._fields is None:
            fields: dict[str, str] = {}
            for key, value in self.scope["headers"]:
                name_ = key.decode("latin-1").lower()
                text = value.decode("latin-1")
                fields[name_] = f"{fields[name_]}, {text}" if name_ in fields else text
            self._fields = fields
        return self._fields.get(name, default)

    @property
    def request_id(self) -> str:
        if self._request_id is None:
            self._request_id = request_id_from(self.header("x-request-id"))
        return self._request_id

    def body(self) -> bytes:
        """The request body, decompressed for a gzip or deflate ``Content-Encoding``."""
        return decode_body(self.raw_body, self.header("content-encoding", "identity"), self.limit)

    def logged_body(self) -> bytes:
        """The body as the payload log keeps it: decompressed if it can be, else as it came."""
        if self.header("content-encoding", "identity").lower() == "identity":
            return self.raw_body
        try:
            return self.body()
        except KFuncError:
            return self.raw_body

    def accepts_event_stream(self) -> bool:
        return "text/event-stream" in (self.header("accept") or "")

    def context(self, protocol: str, model_name: str, **extra: Any) -> Context:
        """The handler's ``Context`` for this request; also fixes the protocol the metrics count."""
        self.protocol = protocol
        return Context(request_id=self.request_id, protocol=protocol, headers=LazyHeaders(self),
                       model_name=model_name, **extra)

    def infer(self, function: Function, data: Any, context: Context, entry: ModelEntry | None = None) -> Any:
        """``function.infer`` (on ``entry``, when resolved already), with the request's parse and
        encode phases timed around it."""
        self.timer.parsed()
        result = function.infer(data, context, entry=entry)
        self.timer.inferred()
        return result
