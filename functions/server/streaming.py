"""Streamed answers: a handler that returns a generator (sync or async) sends its chunks as they
come. HTTP/1.1 carries them chunked and HTTP/2 as DATA frames (the server does both); a client
that accepts ``text/event-stream`` gets Server-Sent Events, others newline-delimited JSON (bytes
and str chunks go as they are). A client that goes away stops the generator. ``Recorder`` keeps
a copy of what went out, for the payload log."""
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
DONE = object()  # what ``next_item`` answers for an iterator that has ended


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
    gone = asyncio.ensure_future(disconnected(receive))
    try:
        if hasattr(reply.stream, "__anext__"):
            return await _send_async(reply.stream, send, event_stream, gone)
        return await _send_sync(reply.stream, send, event_stream, gone)
    finally:
        gone.cancel()


async def _send_async(chunks: AsyncIterator[Any], send: Send, event_stream: bool, gone: asyncio.Future) -> bool:
    """An async iterator's chunks, sent by one task; a client that leaves cancels it where it
    waits, so the generator stops there (its finally blocks run)."""
    pump = asyncio.ensure_future(_pump(chunks, send, event_stream))
    await asyncio.wait({pump, gone}, return_when=asyncio.FIRST_COMPLETED)
    if not pump.done():
        pump.cancel()
        return False
    return pump.result()


async def _pump(chunks: AsyncIterator[Any], send: Send, event_stream: bool) -> bool:
    try:
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": encode_chunk(chunk, event_stream), "more_body": True})
    except Exception as exc:
        await _failed(exc, send, event_stream)
        return False
    finally:
        close_later(chunks)  # a no-op for one that ended; stops one left at a ``yield``
    return True


async def _send_sync(chunks: Iterator[Any], send: Send, event_stream: bool, gone: asyncio.Future) -> bool:
    """A sync generator's chunks, each computed on the handler pool; a client that leaves
    closes it once its pending step is done (a generator cannot be closed while it runs)."""
    while True:
        step = asyncio.ensure_future(next_item(chunks))
        await asyncio.wait({step, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not step.done():
            step.add_done_callback(lambda _: close_later(chunks))
            return False
        try:
            chunk = step.result()
        except Exception as exc:  # the handler's failure, after the headers went out
            await _failed(exc, send, event_stream)
            return False
        if chunk is DONE:
            return True
        await send({"type": "http.response.body", "body": encode_chunk(chunk, event_stream), "more_body": True})
        if gone.done():
            close_later(chunks)
            return False


async def _failed(exc: Exception, send: Send, event_stream: bool) -> None:
    log.error("streamed answer failed: %s: %s", type(exc).__name__, exc, exc_info=exc)
    if event_stream:
        await send({"type": "http.response.body", "more_body": True,
                    "body": b"event: error\n" + encode_chunk({"error": f"{type(exc).__name__}: {exc}"}, True)})


async def next_item(chunks: Iterator[Any] | AsyncIterator[Any]) -> Any:
    """The iterator's next item (an async one's awaited on the loop, a sync one's on the handler
    pool), or ``DONE``."""
    if hasattr(chunks, "__anext__"):
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return DONE
    return await blocking.call(next, chunks, DONE)


def close_later(chunks: Iterator[Any] | AsyncIterator[Any]) -> None:
    """Stop the generator: ``GeneratorExit`` where it waits, so its ``finally`` blocks run."""
    if hasattr(chunks, "aclose"):
        asyncio.ensure_future(chunks.aclose())
    elif hasattr(chunks, "close"):
        blocking.call_soon(chunks.close)


class Recorder:
    """``send`` that also keeps the body bytes it is given, the first ``limit`` of them (``truncated``
    once more went out): what the payload log has of a streamed answer. A chunk is kept before it
    is sent: a send that fails (the client has gone) may have written it already."""

    __slots__ = ("send", "limit", "chunks", "size", "truncated")

    def __init__(self, send: Send, limit: int) -> None:
        self.send = send
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False

    async def __call__(self, message: dict) -> None:
        body = message.get("body", b"")
        room = self.limit - self.size
        if len(body) > room:
            self.truncated = True
            body = body[:room]
        if body:
            self.chunks.append(body)
            self.size += len(body)
        await self.send(message)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


async def disconnected(receive: Receive) -> None:
    """Returns once the client has gone (the body has been received already)."""
    while (await receive())["type"] != "http.disconnect":
        pass
