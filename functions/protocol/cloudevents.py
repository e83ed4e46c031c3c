"""CloudEvents (binary and structured HTTP modes) in and out, on the cloudevents SDK."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent, from_http
from cloudevents.exceptions import GenericException

from ..errors import InvalidInput, UnsupportedMediaType
from .jsonutil import dumps, loads

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
BINARY_HEADERS = ("ce-id", "ce-source", "ce-specversion", "ce-type")  # required attributes, binary mode


@dataclass
class IncomingEvent:
    """A received event: its attributes, its data, and which mode it came in."""

    attributes: dict[str, Any]
    data: Any
    structured: bool


def is_cloudevent(headers: Mapping[str, str]) -> bool:
    """True for a binary-mode (``ce-*`` headers) or structured-mode event request."""
    content_type = headers.get("Content-Type", "").lower()
    return "ce-specversion" in {k.lower() for k in headers.keys()} or content_type.startswith((STRUCTURED, BATCH))


def decode_event(headers: Mapping[str, str], body: bytes) -> IncomingEvent:
    """Parse an event request; InvalidInput for a malformed event, 415 for batches."""
    content_type = headers.get("Content-Type", "").lower()
    if content_type.startswith(BATCH):
        raise UnsupportedMediaType("batched CloudEvents are not supported; send one event per request")
    structured = content_type.startswith(STRUCTURED)
    if not structured:
        _check_binary_headers(headers)
    unmarshal = _keep if structured else loads if _is_json(content_type) else bytes
    try:
        event = from_http(dict(headers), body, data_unmarshaller=unmarshal)
    except (GenericException, ValueError, TypeError, RecursionError) as exc:
        raise InvalidInput(f"not a valid CloudEvent: {exc}") from None
    attributes = dict(event.get_attributes())
    data = event.get_data()
    if structured:
        data = _structured_data(data, attributes.get("datacontenttype"))
    return IncomingEvent(attributes, data, structured)


def _check_binary_headers(headers: Mapping[str, str]) -> None:
    present = {k.lower() for k in headers.keys()}
    missing = [name for name in BINARY_HEADERS if name not in present]
    if missing:
        raise InvalidInput(f"binary-mode CloudEvent without {', '.join(missing)}: "
                           f"send all of {', '.join(BINARY_HEADERS)} as headers, or a structured event")


def _keep(raw: Any) -> Any:
    return raw


def _is_json(content_type: str | None) -> bool:
    return not content_type or "json" in content_type.lower()


def _structured_data(raw: Any, datacontenttype: str | None) -> Any:
    """A structured event's payload: ``data`` (JSON text from the SDK) parsed; ``data_base64``
    (bytes) kept as bytes unless its ``datacontenttype`` is JSON."""
    if isinstance(raw, bytes) and not _is_json(datacontenttype):
        return raw
    return loads(raw) if isinstance(raw, (str, bytes)) else raw


def encode_event(data: Any, *, event_type: str, source: str, structured: bool,
                 extensions: Mapping[str, str] | None = None) -> tuple[dict[str, str], bytes]:
    """The response event's headers and body, in the requested mode, with JSON data."""
    attributes = {"type": event_type, "source": source, "id": uuid.uuid4().hex,
                  "datacontenttype": "application/json", **(extensions or {})}
    event = CloudEvent(attributes, data)
    headers, body = (to_structured if structured else to_binary)(event, data_marshaller=dumps)
    return dict(headers), body
