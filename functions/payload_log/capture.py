"""``PayloadLogger``: what the request path calls once a request is answered (HTTP or gRPC).

It decides (sampling, ``logger.mode``), picks the chosen metadata headers, and queues the request
and response ``LogEvent``s without waiting: a full queue drops them (``on-full: drop``, counted)
or, with ``on-full: block``, waits for room up to the request timeout (on the caller's thread;
from the event loop the wait runs on the handler pool, see ``functions.server.asgi``).
"""
from __future__ import annotations

import random
import time
import uuid
from typing import Callable

import orjson

from .. import metrics
from .config import LoggerSettings
from .events import REQUEST_TYPE, RESPONSE_TYPE, LogEvent, Queued, own_attributes
from .queue import EventQueue

Header = Callable[[str], "str | None"]  # a request header by its lower-case name


class PayloadLogger:
    """Turns answered requests into queued events."""

    def __init__(self, settings: LoggerSettings, queue: EventQueue, block_timeout: float,
                 prepare: Callable[[LogEvent], Queued]) -> None:
        self.queue = queue
        self.prepare = prepare  # the sink's: what of an event is queued
        self.requests = settings.mode in ("all", "request")
        self.responses = settings.mode in ("all", "response")
        self.sample_rate = settings.sample_rate
        self.blocks = settings.on_full == "block"
        self.block_timeout = block_timeout
        self.max_event_bytes = settings.max_event_bytes
        self._metadata = [(name.lower(), _canonical(name)) for name in settings.metadata_headers]

    def sampled(self) -> bool:
        """Whether to log this request (both its events, or none)."""
        return self.sample_rate >= 1 or random.random() < self.sample_rate

    def events(self, header: Header, request_id: str | None, body: bytes, status: int, reply: bytes,
               reply_type: str, reply_header_size: str | None, latency: float,
               traceparent: str | None, *, streamed: bool = False, truncated: bool = False) -> list[LogEvent]:
        """The request's events: ``id`` is the incoming ``ce-id``, else the request id, else a new UUID;
        ``reply_header_size`` the reply's Inference-Header-Content-Length (binary tensor extension);
        ``streamed``: ``reply`` is what went out of a streamed answer (no JSON document), ``truncated``
        when more did."""
        event_id = header("ce-id") or request_id or str(uuid.uuid4())
        metadata = orjson.dumps({canonical: [value] for lower, canonical in self._metadata
                                 if (value := header(lower)) is not None}).decode() if self._metadata else "{}"
        traceparent = traceparent or header("traceparent")
        now = time.time()
        events = []
        if self.requests:
            header_size = _int(header("inference-header-content-length"))
            attributes = own_attributes(REQUEST_TYPE, event_id, now - latency, metadata, header("content-type") or "",
                                        traceparent, header_size)
            events.append(LogEvent(attributes, body, now - latency,
                                   status < 400 and header_size is None))  # answered: its JSON parsed
        if self.responses:
            reply_size = _int(reply_header_size)
            attributes = own_attributes(RESPONSE_TYPE, event_id, now, metadata, reply_type, traceparent, reply_size)
            attributes["statuscode"] = status
            attributes["latencyms"] = f"{latency * 1000:.3f}"
            if truncated:
                attributes["truncated"] = True
            events.append(LogEvent(attributes, reply, now, reply_size is None and not streamed))
        return events

    def queue_events(self, events: list[LogEvent]) -> None:
        """Queue without waiting (``on-full: drop``) or waiting for room (``block``); counted either way.
        A full queue that drops is not given work: nothing is prepared for it."""
        if self.blocks:
            queued = sum(self.queue.put(self.prepare(event), self.block_timeout) for event in events)
        elif self.queue.full():
            queued = 0
        else:
            queued = self.queue.offer([self.prepare(event) for event in events])
        if queued:
            metrics.count_logged("queued", queued)
        if queued < len(events):
            metrics.count_logged("dropped", len(events) - queued)


def _canonical(name: str) -> str:
    """``x-user-id`` -> ``X-User-Id`` (the form KServe's metadata keys have, Go's canonical header form)."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None

