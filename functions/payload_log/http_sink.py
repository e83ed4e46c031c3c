"""The http(s) sink: CloudEvents over kept-alive connections, in binary mode (an event a POST, as
KServe's logger sends them) or, with ``logger.encoding: batch``, in the CloudEvents JSON batch
format (``application/cloudevents-batch+json``, ``logger.batch`` events a POST).

One urllib3 connection pool per worker, as many connections as sender threads
(``logger.max-in-flight``); urllib3's own retries are off, the sender retries (5xx, 429 and
connection errors, with backoff). ``KFUNC_LOGGER_AUTHORIZATION`` (from the logger Secret) is sent
as the ``Authorization`` header.
"""
from __future__ import annotations

import os
from urllib.parse import urlsplit

import urllib3

from .config import LoggerSettings
from .errors import SinkRejected, SinkUnavailable
from .events import Identity, LogEvent, Queued, binary_message, cloud_event, json_array, json_record

AUTHORIZATION_ENV = "KFUNC_LOGGER_AUTHORIZATION"
BATCH_TYPE = "application/cloudevents-batch+json"


class HttpSink:
    """Delivers events to a CloudEvents receiver (a Knative Broker, any HTTP server)."""

    def __init__(self, url: str, settings: LoggerSettings, who: Identity) -> None:
        self.url = url
        self.who = who
        self.batched = settings.encoding == "batch"
        self.batch_events = settings.batch.max_events if self.batched else 1
        self.batch_bytes = settings.batch.max_bytes_value if self.batched else settings.queue.max_bytes_value
        self.linger = settings.batch.max_delay if self.batched else 0.0
        self.senders = settings.max_in_flight
        self._auth = os.environ.get(AUTHORIZATION_ENV)
        parts = urlsplit(url)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._pool = urllib3.connection_from_url(url, maxsize=settings.max_in_flight, block=True, retries=False,
                                                 timeout=urllib3.Timeout(connect=settings.timeout,
                                                                         read=settings.timeout))

    def prepare(self, event: LogEvent) -> Queued:
        """In batch mode the event's JSON record, made on the request path; else the event."""
        return json_record(event, self.who) if self.batched else event

    def deliver(self, batch: list[Queued]) -> None:
        if self.batched:
            body = json_array(batch)
            self._post({"Content-Type": BATCH_TYPE}, body, f"{len(batch)} events")
            return
        for event in batch:
            headers, body = binary_message(cloud_event(event, self.who))
            if "traceparent" in event.attributes:
                headers["traceparent"] = event.attributes["traceparent"]  # the W3C header too, for the receiver's own tracing
            self._post(headers, body, f"event {event.id}")

    def _post(self, headers: dict[str, str], body: bytes, what: str) -> None:
        if self._auth:
            headers["Authorization"] = self._auth
        try:
            response = self._pool.urlopen("POST", self._path, body=body, headers=headers, retries=False)
        except urllib3.exceptions.HTTPError as exc:
            raise SinkUnavailable(f"{self.url}: {type(exc).__name__}: {exc}") from None
        if response.status >= 500 or response.status == 429:
            raise SinkUnavailable(f"{self.url} answered {response.status}")
        if response.status >= 300:
            raise SinkRejected(f"{self.url} refused {what} with {response.status}: "
                               f"{response.data[:200].decode('utf-8', 'replace')}")

    def close(self) -> None:
        self._pool.close()
