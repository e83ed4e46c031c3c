"""Plain inference requests on a kept-alive connection, read and answered without gunicorn's
general HTTP machinery (its parser, WSGI environ and response writer cost more per request
than a small model's forward pass).

Only the common case is taken: ``POST`` to an inference route over HTTP/1.1, a small
``Content-Length`` body, headers that are plain tokens, each once, and none that changes how
the message is framed or the connection kept (``Transfer-Encoding``, ``Expect``, ``Upgrade``,
a ``Connection`` other than ``keep-alive``...). Everything else, and every first request on a connection,
goes to gunicorn as before, with the bytes already read handed back to its parser, so what a
client sees of those is unchanged. The answer is written in one ``send``: status line,
gunicorn's ``Server``/``Date``/``Connection`` headers, the app's headers, the body.
"""
from __future__ import annotations

import io
import re
import socket
import sys
import time
from email.utils import formatdate
from typing import Any, Callable

from gunicorn import SERVER, SERVER_SOFTWARE

MAX_BODY = 4 << 20  # larger bodies are streamed by gunicorn
_REQUEST_LINE = re.compile(rb"POST (/[\x21-\x7e]*) HTTP/1\.1")
_FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^`|~0-9A-Za-z]+")  # a token without "_" (gunicorn drops those)
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_GUNICORN_ONLY = frozenset((b"TRANSFER-ENCODING", b"EXPECT", b"UPGRADE", b"HTTP2-SETTINGS",
                            b"TE", b"TRAILER", b"SCRIPT-NAME", b"PATH-INFO"))


class _Date:
    """The ``Date`` header value, formatted once a second."""

    second = -1
    text = ""

    @classmethod
    def now(cls) -> str:
        second = int(time.time())
        if second != cls.second:
            cls.text, cls.second = formatdate(second, usegmt=True), second
        return cls.text


class PlainRequest:
    """A request the fast path takes: target, headers as environ entries, body, bytes after it."""

    __slots__ = ("target", "headers", "body", "rest")

    def __init__(self, target: str, headers: dict[str, str], body: bytes, rest: bytes) -> None:
        self.target, self.headers, self.body, self.rest = target, headers, body, rest


def read_plain(sock: socket.socket, data: bytes, cfg: Any, wanted: Callable[[str], bool]) -> PlainRequest | bytes:
    """The next request on ``sock`` (``data`` is what is already read of it) if the fast path
    takes it, else every byte read so far, for gunicorn's parser."""
    limit = cfg.limit_request_line + cfg.limit_request_fields * (cfg.limit_request_field_size + 2) + 4
    end = data.find(b"\r\n\r\n")
    while end < 0:
        if len(data) > limit:
            return data
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
        end = data.find(b"\r\n\r\n", max(0, len(data) - len(chunk) - 3))
    lines = data[:end].split(b"\r\n")
    line = _REQUEST_LINE.fullmatch(lines[0])
    if line is None or len(lines[0]) > cfg.limit_request_line or len(lines) - 1 > cfg.limit_request_fields:
        return data
    target = line.group(1).decode("latin-1")
    if "%" in target or not wanted(target.partition("?")[0]):
        return data
    headers = _headers(lines[1:], cfg.limit_request_field_size)
    if headers is None:
        return data
    length_text = headers.get("CONTENT_LENGTH", "0")
    if not length_text.isdigit() or int(length_text) > MAX_BODY:
        return data
    length = int(length_text)
    body_start = end + 4
    while len(data) - body_start < length:
        chunk = sock.recv(max(65536, length - (len(data) - body_start)))
        if not chunk:
            return data
        data += chunk
    return PlainRequest(target, headers, data[body_start:body_start + length], data[body_start + length:])


def _headers(lines: list[bytes], max_size: int) -> dict[str, str] | None:
    """Header lines as environ entries, or None if one of them is not plain."""
    headers: dict[str, str] = {}
    for raw in lines:
        name, colon, value = raw.partition(b":")
        if not colon or len(raw) > max_size or not _FIELD_NAME.fullmatch(name) or _BAD_VALUE.search(value):
            return None
        name = name.upper()
        if name in _GUNICORN_ONLY or (name == b"CONNECTION" and value.strip(b" \t").lower() != b"keep-alive"):
            return None
        key = name.decode("latin-1").replace("-", "_")
        key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
        if key in headers:
            return None
        headers[key] = value.strip(b" \t").decode("latin-1")
    return headers


def answer(sock: socket.socket, request: PlainRequest, app: Callable, client: Any, server: Any,
           keep_alive: bool, multiprocess: bool) -> None:
    """Run the WSGI app on the request and send its whole answer in one write."""
    path, _, query = request.target.partition("?")
    environ = {
        "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": False, "wsgi.input_terminated": True, "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(request.body), "wsgi.errors": sys.stderr,
        "SERVER_SOFTWARE": SERVER_SOFTWARE, "REQUEST_METHOD": "POST", "SCRIPT_NAME": "",
        "PATH_INFO": path, "QUERY_STRING": query, "RAW_URI": request.target, "SERVER_PROTOCOL": "HTTP/1.1",
        "gunicorn.socket": sock, **request.headers,
    }
    if isinstance(client, tuple):
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = client[0], str(client[1])
    if isinstance(server, tuple):
        environ["SERVER_NAME"], environ["SERVER_PORT"] = server[0], str(server[1])
    started: list = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: started.extend((status, headers))))
    status, headers = started
    head = [f"HTTP/1.1 {status}\r\nServer: {SERVER}\r\nDate: {_Date.now()}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n"]
    head += [f"{name}: {value}\r\n" for name, value in headers]
    sock.sendall("".join(head).encode("latin-1") + b"\r\n" + body)
