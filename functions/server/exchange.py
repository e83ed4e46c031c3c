"""One request on an inference route, served straight from the WSGI environ (no flask), and its reply.

The inference routes are the hot path: flask's request context, URL map and response
machinery cost more than a small model's forward pass, so these routes read the environ
directly. Headers are werkzeug's ``EnvironHeaders`` (case-insensitive, read lazily), as under
flask, so a handler's ``context.headers`` behaves the same.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import EnvironHeaders

from ..context import Context
from ..function import Function
from ..protocol.jsonutil import dumps
from ..timing import RequestTimer
from .body import read_body, request_id_from

JSON = "application/json"


@dataclass
class Reply:
    """A response: status, body and headers (``Content-Type`` included)."""

    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": JSON})
    status: int = 200


def json_reply(value: Any, status: int = 200) -> Reply:
    return Reply(value if isinstance(value, bytes) else dumps(value), {"Content-Type": JSON}, status)


class Exchange:
    """What an inference handler reads of its request; ``protocol`` is set once it is known."""

    __slots__ = ("environ", "limit", "protocol", "timer", "_headers", "_request_id")

    def __init__(self, environ: dict, limit: int, protocol: str, timer: RequestTimer) -> None:
        self.environ = environ
        self.limit = limit
        self.protocol = protocol
        self.timer = timer
        self._headers: EnvironHeaders | None = None
        self._request_id: str | None = None

    @property
    def headers(self) -> EnvironHeaders:
        if self._headers is None:
            self._headers = EnvironHeaders(self.environ)
        return self._headers

    def header(self, environ_key: str, default: str | None = None) -> str | None:
        """One header by its environ key (``CONTENT_TYPE``, ``HTTP_X_REQUEST_ID``...), cheaply."""
        return self.environ.get(environ_key, default)

    @property
    def request_id(self) -> str:
        if self._request_id is None:
            self._request_id = request_id_from(self.environ.get("HTTP_X_REQUEST_ID"))
        return self._request_id

    def body(self) -> bytes:
        """The request body within the size limit, decompressed (as ``read_body``)."""
        environ = self.environ
        length = _content_length(environ.get("CONTENT_LENGTH"))
        stream = environ["wsgi.input"]
        if length is None and not environ.get("wsgi.input_terminated"):
            return b""  # neither a length nor a terminated stream: no body, as werkzeug reads it
        return read_body(stream, length, environ.get("HTTP_CONTENT_ENCODING", "identity"), self.limit)

    def context(self, protocol: str, model_name: str, **extra: Any) -> Context:
        """The handler's ``Context`` for this request; also fixes the protocol the metrics count."""
        self.protocol = protocol
        return Context(request_id=self.request_id, protocol=protocol, headers=self.headers,
                       model_name=model_name, **extra)

    def infer(self, function: Function, data: Any, context: Context) -> Any:
        """``function.infer``, with the request's parse and encode phases timed around it."""
        self.timer.parsed()
        result = function.infer(data, context)
        self.timer.inferred()
        return result


def _content_length(value: str | None) -> int | None:
    if not value:
        return None
    try:
        length = int(value)
    except ValueError:
        return None
    return length if length >= 0 else None
