"""The http(s) sink: each event POSTed in CloudEvents binary mode over kept-alive connections.

One urllib3 pool per worker, as many connections as sender threads (``logger.max-in-flight``);
urllib3's own retries are off, the sender retries (5xx and connection errors, with backoff).
``KFUNC_LOGGER_AUTHORIZATION`` (from the logger Secret) is sent as the ``Authorization`` header.
"""
from __future__ import annotations

import os

import urllib3

from .config import LoggerSettings
from .errors import SinkRejected, SinkUnavailable
from .events import Identity, LogEvent, binary_message, cloud_event

AUTHORIZATION_ENV = "KFUNC_LOGGER_AUTHORIZATION"


class HttpSink:
    """Delivers events one at a time to a CloudEvents receiver (a Knative Broker, any HTTP server)."""

    batch_events = 1
    linger = 0.0

    def __init__(self, url: str, settings: LoggerSettings, who: Identity) -> None:
        self.url = url
        self.who = who
        self.batch_bytes = settings.queue.max_bytes_value
        self.senders = settings.max_in_flight
        self._auth = os.environ.get(AUTHORIZATION_ENV)
        self._pool = urllib3.PoolManager(num_pools=1, maxsize=settings.max_in_flight, block=True, retries=False,
                                         timeout=urllib3.Timeout(connect=settings.timeout, read=settings.timeout))

    def deliver(self, batch: list[LogEvent]) -> None:
        for event in batch:
            headers, body = binary_message(cloud_event(event, self.who))
            if self._auth:
                headers["Authorization"] = self._auth
            if event.traceparent:
                headers["traceparent"] = event.traceparent  # the W3C header too, for the receiver's own tracing
            try:
                response = self._pool.request("POST", self.url, body=body, headers=headers, retries=False,
                                              preload_content=True)
            except urllib3.exceptions.HTTPError as exc:
                raise SinkUnavailable(f"{self.url}: {type(exc).__name__}: {exc}") from None
            if response.status >= 500 or response.status == 429:
                raise SinkUnavailable(f"{self.url} answered {response.status}")
            if response.status >= 300:
                raise SinkRejected(f"{self.url} refused event {event.id} with {response.status}: "
                                   f"{response.data[:200].decode('utf-8', 'replace')}")

    def close(self) -> None:
        self._pool.clear()
