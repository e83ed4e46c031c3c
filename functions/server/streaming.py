"""Streamed answers: a handler that returns a generator (sync or async) sends its chunks as they
come. HTTP/1.1 carries them chunked and HTTP/2 as DATA frames (the server does both); a client
that accepts ``text/event-stream`` gets Server-Sent Events, others newline-delimited JSON (bytes
and str chunks go as they are). A client that goes away stops the generator."""
from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

from ..binding import json_value
from ..protocol.jsonutil import dumps
from . import blocking
from .exchange import Reply

log = logging.getLogger("kfunc")
Send = Callable[[dict], Awaitable[None]]
Receive = Callable[[], Awaitable[dict]]
EVENT_STREAM = "text/event-stream"
NDJSON = "application/x-ndjson"
_DONE = object()


def is_stream(value: Any) -> bool:
    return inspect.isgenerator(value) or inspect.isasyncgen(value)


def stream_reply(chunks: Iterator[Any] | AsyncIterator[Any], event_stream: bool) -> Reply:
    """The reply that streams ``chunks``, as SSE when ``event_stream``."""
    content_type = EVENT_STREAM if event_stream else NDJSON
    return Reply(b"", {"Content-Type": content_type, "Cache-Control": "no-cache"}, stream=chunks)


def encode_chunk(chunk: Any, event_stream: bool) -> bytes:
    """One chunk on the wire: ``data: <json>\\n\\n`` for SSE, a JSON line otherwise."""
    if isinstance(chunk, (bytes, bytearray)):
        data = bytes(chunk)
    elif isinstance(chunk, str):
        data = chunk.encode()
    else:
        data = dumps(json_value(chunk))
    if not event_stream:
        return data if isinstance(chunk, (bytes, bytearray, str)) else data + b"\n"
    return b"".join(b"data: " + line + b"\n" for line in data.split(b"\n")) + b"\n"


async def send_stream(reply: Reply, send: Send, receive: Receive) -> bool:
    """Send ``reply.stream``'s chunks until it ends or the client leaves; True when it ended.

    A handler failure mid-stream ends the stream (an SSE client gets an ``error`` event first):
    the status line has gone out already."""
    assert reply.stream is not None
    event_stream = reply.headers.get("Content-Type") == EVENT_STREAM
    gone = asyncio.ensure_future(_disconnected(receive))
    chunks = reply.stream
    try:
        while True:
            step = asyncio.ensure_future(_next(chunks))
            await asyncio.wait({step, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                step.add_done_callback(lambda _: _close(chunks))
                return False
            try:
                chunk = step.result()
            except Exception as exc:  # the handler's failure, after the headers went out
                log.error("streamed answer failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
                if event_stream:
                    await send({"type": "http.response.body", "more_body": True,
                                "body": b"event: error\n" + encode_chunk({"error": f"{type(exc).__name__}: {exc}"}, True)})
                return False
            if chunk is _DONE:
                return True
            await send({"type": "http.response.body", "body": encode_chunk(chunk, event_stream), "more_body": True})
            if gone.done():
                _close(chunks)
                return False
    finally:
        gone.cancel()


async def _next(chunks: Iterator[Any] | AsyncIterator[Any]) -> Any:
    if inspect.isasyncgen(chunks):
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return _DONE
    return await blocking.call(next, chunks, _DONE)


def _close(chunks: Iterator[Any] | AsyncIterator[Any]) -> None:
    """Stop the generator: ``GeneratorExit`` where it waits, so its ``finally`` blocks run."""
    if inspect.isasyncgen(chunks):
        asyncio.ensure_future(chunks.aclose())
    else:
        blocking.call_soon(chunks.close)


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
