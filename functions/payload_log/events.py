"""What is logged of one request or response, and the CloudEvent it becomes (KServe's logger
format, built with the cloudevents SDK).

A ``LogEvent`` is made on the request path and costs next to nothing: the body bytes are the
request's and the reply's own objects, not copies. The JSON sinks (http batches, JSON lines) have
it encoded there too, as a ``Record``; the others' sender thread turns it into a CloudEvent:
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
from dataclasses import dataclass
from functools import cached_property, lru_cache
from datetime import datetime, timezone
from typing import Any, NamedTuple, Union

import orjson
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent

REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"
EVENT_OVERHEAD = 512  # bytes counted per event on top of its body (attributes, bookkeeping)


@dataclass(frozen=True)
class Identity:
    """Who logs: KServe's ``inferenceservicename``, ``namespace``, ``component``, ``endpoint``; the source URI."""

    service: str
    namespace: str
    component: str
    endpoint: str
    source: str

    @cached_property
    def attributes(self) -> dict[str, str]:
        """The attributes every event of this process has."""
        return {"specversion": "1.0", "source": self.source, "inferenceservicename": self.service,
                "namespace": self.namespace, "component": self.component, "endpoint": self.endpoint}

    @cached_property
    def json_head(self) -> bytes:
        """``attributes`` as the start of a JSON object, up to and with the comma after the last."""
        return orjson.dumps(self.attributes)[:-1] + b","


class LogEvent(NamedTuple):
    """One request or response as it came and went (``data`` not re-encoded).

    ``attributes`` are the event's own CloudEvents attributes, final (``own_attributes`` makes
    them; ``Identity.attributes`` has those every event of the process shares). Immutable plain
    values, made on the request path in one step: the body bytes are the request's and the
    reply's own objects, not copies."""

    attributes: dict[str, Any]
    data: bytes
    time: float
    valid_json: bool = False  # a JSON body the server parsed (or wrote): embedded in JSON records unchecked

    @property
    def id(self) -> str:
        return self.attributes["id"]

    @property
    def size(self) -> int:
        """Bytes it holds while queued (the bound of ``logger.queue.max-bytes``)."""
        return len(self.data) + EVENT_OVERHEAD


class Record(NamedTuple):
    """An event encoded as its JSON record (``json_record``) on the request path, what the JSON
    sinks queue (``time`` the event's): their sender then only joins bytes, so it barely needs the GIL the event loop holds
    (each hand-over of the GIL between two busy threads costs both of them CPU)."""

    data: bytes
    time: float

    @property
    def size(self) -> int:
        return len(self.data) + EVENT_OVERHEAD


Queued = Union[LogEvent, Record]  # what a sink's ``prepare`` makes of an event, and the queue holds


def own_attributes(type_: str, event_id: str, time: float, metadata: str, content_type: str,
                   traceparent: str | None, header_size: int | None = None) -> dict[str, Any]:
    """An event's own attributes (``Identity.attributes`` has the rest); a response event adds
    ``statuscode`` and ``latencyms``, a streamed answer logged in part ``truncated``."""
    attributes: dict[str, Any] = {"id": event_id, "type": type_, "time": rfc3339(time), "metadata": metadata}
    if content_type:
        attributes["datacontenttype"] = _data_type(content_type)
    if traceparent:
        attributes["traceparent"] = traceparent
    if header_size is not None:
        attributes["binaryheadersize"] = header_size
    return attributes


def cloud_event(event: LogEvent, who: Identity) -> CloudEvent:
    """The event as the cloudevents SDK's ``CloudEvent`` (for the binary mode and Parquet writers)."""
    return CloudEvent({**who.attributes, **event.attributes}, event.data)


def binary_message(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """HTTP headers and body of the event in binary mode (the body exactly the logged bytes)."""
    headers, body = to_binary(event, data_marshaller=_as_is)
    return {k: _header_value(v) for k, v in headers.items()}, body or b""


def json_record(event: LogEvent, who: Identity) -> Record:
    """The event in the CloudEvents JSON format, one JSON object: ``data`` as JSON for a JSON body,
    else ``data_base64``. A ``valid_json`` body goes in as it is (``orjson.Fragment``), not parsed
    again; the attributes every event of this process shares are encoded once (``Identity``). No SDK
    object: making a ``CloudEvent`` per event cost more than the rest of the record."""
    record = dict(event.attributes)
    data = event.data
    if data and "json" in record.get("datacontenttype", ""):
        try:
            record["data"] = orjson.Fragment(data) if event.valid_json else orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    if "data" not in record:
        record["data_base64"] = base64.b64encode(data).decode()
    return Record(who.json_head + orjson.dumps(record)[1:], event.time)


def json_array(records: list[Record]) -> bytes:
    """The records as one JSON array (the CloudEvents JSON batch format)."""
    return b"[" + b",".join(record.data for record in records) + b"]"


def json_lines(records: list[Record]) -> bytes:
    """The records as JSON lines, a record a line."""
    return b"".join(record.data + b"\n" for record in records)


def rfc3339(seconds: float) -> str:
    """``seconds`` since the epoch as an RFC 3339 UTC time with microseconds
    (``2026-12-02T21:50:11.123456+00:00``)."""
    whole = int(seconds)
    carry, micros = divmod(round((seconds - whole) * 1_000_000), 1_000_000)  # rounded as datetime rounds
    return f"{_date_and_time(whole + carry)}.{micros:06d}+00:00"


@lru_cache(maxsize=4)
def _date_and_time(whole_seconds: int) -> str:
    """The date and time of day of a second, made once for all the events logged in it."""
    return datetime.fromtimestamp(whole_seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


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
