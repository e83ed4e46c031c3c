"""Reading request bodies within the size limit (gzip/deflate decoded), and request ids."""
from __future__ import annotations

import uuid
import zlib
from typing import BinaryIO

from ..errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

_CHUNK = 1 << 20
_DRAIN_FACTOR = 4  # read and drop an oversized body up to 4x the limit, so the client sees the 413


def read_body(stream: BinaryIO, length: int | None, encoding: str, limit: int) -> bytes:
    """The whole body of ``length`` bytes (None: read to the end), decompressed for a gzip or
    deflate ``encoding``; 413 past ``limit``."""
    if length is not None and length > limit:
        _drain(stream, min(length, _DRAIN_FACTOR * limit))
        raise _too_large(limit, length)
    body = stream.read(limit + 1) if length is None else stream.read(length)
    if len(body) > limit:
        _drain(stream, _DRAIN_FACTOR * limit)
        raise _too_large(limit, None)
    return _decode(body, encoding.lower(), limit)


def _decode(body: bytes, encoding: str, limit: int) -> bytes:
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


def _drain(stream: BinaryIO, budget: int) -> None:
    while budget > 0 and stream.read(min(_CHUNK, budget)):
        budget -= _CHUNK


def _too_large(limit: int, length: int | None) -> PayloadTooLarge:
    size = f" ({length} bytes)" if length is not None else ""
    return PayloadTooLarge(f"request body{size} is over the limit of {limit} bytes; raise runtime.max-body-mb in kfunc.yaml")


def request_id_from(header: str | None) -> str:
    """The caller's ``X-Request-Id``, or a new one; the response echoes it."""
    return header or uuid.uuid4().hex
