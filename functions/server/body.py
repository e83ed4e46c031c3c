"""Request bodies: received within the size limit, gzip/deflate decoded; request ids."""
from __future__ import annotations

import random
import zlib
from typing import Any, Awaitable, Callable

from ..errors import InvalidInput, KFuncError, PayloadTooLarge, UnsupportedMediaType

DRAIN_FACTOR = 4  # receive and drop an oversized body up to 4x the limit, so the client sees the 413
Receive = Callable[[], Awaitable[dict[str, Any]]]


class BodyTimeout(KFuncError):
    """The client stopped sending its body (the server's body-read timeout)."""

    status = 408


class ClientGone(Exception):
    """The client went away before its body was complete: there is no one to answer."""


async def receive_body(receive: Receive, length: int | None, limit: int) -> bytes:
    """The whole body from ASGI ``receive``; 413 past ``limit`` (after draining up to 4x of it),
    408 when it stops arriving (``http.disconnect`` on a live connection), ClientGone when the
    client left."""
    if length is not None and length > limit:
        await _drain(receive, min(length, DRAIN_FACTOR * limit))
        raise _too_large(limit, length)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BodyTimeout("request body incomplete: the client stopped sending it; send the whole body "
                              "within the server's timeout")
        chunk = message.get("body", b"")
        if chunk:
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                if message.get("more_body", False):
                    await _drain(receive, DRAIN_FACTOR * limit - size)
                raise _too_large(limit, None)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _drain(receive: Receive, budget: int) -> None:
    while budget > 0:
        message = await receive()
        budget -= len(message.get("body", b""))
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return


def decode_body(body: bytes, encoding: str, limit: int) -> bytes:
    """``body`` decompressed for a gzip or deflate ``encoding``; 413 past ``limit``, 415 otherwise."""
    encoding = encoding.lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported; use gzip, deflate or none")
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib, detected from the header
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidInput(f"request body is not valid {encoding}: {exc}") from None
    if len(data) > limit:
        raise _too_large(limit, None)
    if not inflater.eof:
        raise InvalidInput(f"request body is truncated {encoding}: the compressed stream ends early")
    return data


def _too_large(limit: int, length: int | None) -> PayloadTooLarge:
    size = f" ({length} bytes)" if length is not None else ""
    return PayloadTooLarge(f"request body{size} is over the limit of {limit} bytes; raise runtime.max-body-mb in kfunc.yaml")


def request_id_from(header: str | None) -> str:
    """The caller's ``X-Request-Id``, or a new one (128 random bits in hex, as ``uuid4().hex`` looks,
    from ``random``: an id needs to be unique, not secret, and uuid4 costs four times as much; the
    module reseeds itself in a forked worker); the response echoes it."""
    return header or f"{random.getrandbits(128):032x}"
