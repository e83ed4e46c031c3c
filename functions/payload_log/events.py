"""What is logged of one request or response, and the CloudEvent it becomes (KServe's logger
format, built with the cloudevents SDK).

A ``LogEvent`` is made on the request path and costs next to nothing: the body bytes are the
request's and the reply's own objects, not copies. The sender thread turns it into a CloudEvent:
type ``org.kubeflow.serving.inference.request`` / ``.response``, ``id`` the request's id (the
same on both events), KServe's extensions ``inferenceservicename``, ``namespace``, ``component``,
``endpoint`` and ``metadata`` (JSON of the chosen request headers), and kfunc's own:
``traceparent`` (W3C distributed-tracing extension), ``statuscode`` and ``latencyms`` on the
response, ``binaryheadersize`` when the body uses the binary tensor extension, ``truncated``
(true) on the response of a streamed answer logged in part. A structured-mode
CloudEvent body is labelled ``application/json`` (see ``_data_type``).
"""
from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator, NamedTuple

import orjson
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"
EVENT_OVERHEAD = 512  # bytes counted per event on top of its body (attributes, bookkeeping)
RECORD_CHUNK = 32  # events a sender encodes between letting the event loop have the GIL


@dataclass(frozen=True)
class Identity:
    """Who logs: KServe's ``inferenceservicename``, ``namespace``, ``component``, ``endpoint``; the source URI."""

    service: str
    namespace: str
    component: str
    endpoint: str
    source: str


class LogEvent(NamedTuple):
    """One request or response as it came and went (``data`` not re-encoded, ``content_type`` kept).

    Immutable plain values; ``metadata`` is JSON already, encoded once for both of a request's
    events rather than by the sender for each."""

    type: str
    id: str
    data: bytes
    content_type: str
    metadata: str  # JSON of the chosen request headers, ``{"X-User-Id": ["..."]}``
    time: float
    traceparent: str | None = None
    status: int | None = None
    latency_ms: float | None = None
    header_size: int | None = None
    valid_json: bool = False  # a JSON body the server parsed (or wrote): embedded in JSON records unchecked
    truncated: bool = False  # a streamed answer's first bytes only (``LoggerSettings.max_event_bytes``)

    @property
    def size(self) -> int:
        """Bytes it holds while queued (the bound of ``logger.queue.max-bytes``)."""
        return len(self.data) + EVENT_OVERHEAD


def attributes(event: LogEvent, who: Identity) -> dict[str, Any]:
    """The event's CloudEvents attributes, as KServe's logger sets them, plus kfunc's extensions."""
    attributes: dict[str, Any] = {
        "specversion": "1.0",
        "id": event.id,
        "type": event.type,
        "source": who.source,
        "time": datetime.fromtimestamp(event.time, timezone.utc).isoformat(),
        "inferenceservicename": who.service,
        "namespace": who.namespace,
        "component": who.component,
        "endpoint": who.endpoint,
        "metadata": event.metadata,
    }
    if event.content_type:
        attributes["datacontenttype"] = _data_type(event.content_type)
    if event.traceparent:
        attributes["traceparent"] = event.traceparent
    if event.status is not None:
        attributes["statuscode"] = event.status
    if event.latency_ms is not None:
        attributes["latencyms"] = f"{event.latency_ms:.3f}"
    if event.header_size is not None:
        attributes["binaryheadersize"] = event.header_size
    if event.truncated:
        attributes["truncated"] = True
    return attributes


def cloud_event(event: LogEvent, who: Identity) -> CloudEvent:
    """The event as the cloudevents SDK's ``CloudEvent`` (for the binary mode and Parquet writers)."""
    return CloudEvent(attributes(event, who), event.data)


def binary_message(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """HTTP headers and body of the event in binary mode (the body exactly the logged bytes)."""
    headers, body = to_binary(event, data_marshaller=_as_is)
    return {k: _header_value(v) for k, v in headers.items()}, body or b""


def json_record(event: LogEvent, who: Identity) -> dict[str, Any]:
    """The event in the CloudEvents JSON format: ``data`` as JSON for a JSON body, else ``data_base64``.
    A ``valid_json`` body goes in as it is (``orjson.Fragment``), not parsed again. Built from the
    attributes without an SDK object: the batch and JSON-lines writers need only the mapping, and
    making a ``CloudEvent`` per event cost the sender more than the rest of the record."""
    record = attributes(event, who)
    data = event.data
    if "json" in (record.get("datacontenttype") or "") and data:
        if event.valid_json:
            record["data"] = orjson.Fragment(data)
            return record
        try:
            record["data"] = orjson.loads(data)
            return record
        except orjson.JSONDecodeError:
            pass
    record["data_base64"] = base64.b64encode(data).decode()
    return record


def json_records(batch: list[LogEvent], who: Identity, chunk: int = RECORD_CHUNK) -> Iterator[list[dict[str, Any]]]:
    """The batch's ``json_record``s, ``chunk`` at a time, giving up the GIL between chunks: a sender
    thread never holds it for long, so the event loop it shares the process with stays responsive."""
    for start in range(0, len(batch), chunk):
        if start:
            time.sleep(0)  # let a waiting thread (the event loop) have the GIL
        yield [json_record(event, who) for event in batch[start:start + chunk]]


def json_array(batch: list[LogEvent], who: Identity) -> bytes:
    """The batch as one JSON array (the CloudEvents JSON batch format), encoded a chunk at a time."""
    return b"[" + b",".join(orjson.dumps(records)[1:-1] for records in json_records(batch, who)) + b"]"


def json_lines(batch: list[LogEvent], who: Identity) -> bytes:
    """The batch as JSON lines, a record a line."""
    return b"".join(orjson.dumps(record) + b"\n" for records in json_records(batch, who) for record in records)


def _data_type(content_type: str) -> str:
    """The body's content type; a structured-mode CloudEvent body (``application/cloudevents+json``)
    is labelled ``application/json``: in binary mode that content type would make every receiver read
    the logged event as a structured event (the CloudEvents HTTP binding decides on it)."""
    if content_type.lower().startswith("application/cloudevents"):
        return "application/json"
    return content_type


def _header_value(value: Any) -> str:
    """An attribute as a ``ce-`` header: a Boolean as CloudEvents writes it (``true``), not Python's ``True``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_is(data: Any) -> Any:
    return data
